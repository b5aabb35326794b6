// fmt's compiled part, for the statically linked zenml-analytics only
// (tools/zenml-analytics/CMakeLists.txt, ZENML_STATIC_CLI).
//
// Debian ships fmt as a shared library and headers, no archive. The
// project's code is compiled against the shared library's interface
// (fmt::vformat and friends out of line), so a program that must not load
// libfmt.so (which pulls in libstdc++.so) needs those definitions itself:
// this is fmt 9's src/format.cc, i.e. format-inl.h compiled out of line plus
// the explicit instantiations that format.h declares extern. CMake builds
// this file only when the fmt found is 9.x; for any other version the
// program links the shared fmt instead.

#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept
    -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept
    -> dragonbox::decimal_fp<double>;

#ifndef FMT_STATIC_THOUSANDS_SEPARATOR
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

// Explicit instantiations for char.
template FMT_API auto thousands_sep_impl(locale_ref)
    -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                 locale_ref);

// Explicit instantiations for wchar_t.
template FMT_API auto thousands_sep_impl(locale_ref)
    -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE
