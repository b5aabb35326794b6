// ZENML_ANALYTICS_EXPORT: marks what the shared library libzenml-analytics
// exports. The library is built with -fvisibility=hidden and
// -fvisibility-inlines-hidden, so everything not marked stays internal and
// only the public API under <zenml/analytics/...> is part of the ABI.
//
// ZENML_ANALYTICS_STATIC: define it when linking the library's code
// statically (the in-tree targets do), so nothing is marked at all.
//
// Plain C++17; no dependency.

#ifndef ZENML_ANALYTICS_EXPORT_H_
#define ZENML_ANALYTICS_EXPORT_H_

#if defined(ZENML_ANALYTICS_STATIC)
#define ZENML_ANALYTICS_EXPORT
#elif defined(_WIN32)
#if defined(ZENML_ANALYTICS_BUILDING)
#define ZENML_ANALYTICS_EXPORT __declspec(dllexport)
#else
#define ZENML_ANALYTICS_EXPORT __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
// The same attribute for building and using: on ELF a default-visibility
// declaration is what makes the symbol dynamic. Standard attribute syntax, so
// it composes with [[nodiscard]] (class [[...]] [[nodiscard]] Status).
#define ZENML_ANALYTICS_EXPORT [[gnu::visibility("default")]]
#else
#define ZENML_ANALYTICS_EXPORT
#endif

#endif  // ZENML_ANALYTICS_EXPORT_H_
