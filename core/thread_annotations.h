// Thread-safety annotations for Clang's -Wthread-safety analysis.
//
// Under Clang these expand to the capability attributes the analysis checks at
// compile time (which mutex guards which field, which functions need it held);
// under any other compiler they expand to nothing, so they cost nothing and
// change no behaviour. The names follow Abseil's and LevelDB's
// (port/thread_annotations.h) so they read the same as in those codebases.
//
// std::mutex carries no capability attribute in libstdc++, so code the
// analysis checks locks a core::Mutex (core/mutex.h), which does.

#ifndef ZENML_CORE_THREAD_ANNOTATIONS_H_
#define ZENML_CORE_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define ZENML_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define ZENML_THREAD_ANNOTATION_(x)
#endif

#define CAPABILITY(x) ZENML_THREAD_ANNOTATION_(capability(x))
#define SCOPED_CAPABILITY ZENML_THREAD_ANNOTATION_(scoped_lockable)
#define GUARDED_BY(x) ZENML_THREAD_ANNOTATION_(guarded_by(x))
#define PT_GUARDED_BY(x) ZENML_THREAD_ANNOTATION_(pt_guarded_by(x))
#define ACQUIRED_AFTER(...) \
  ZENML_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))
#define REQUIRES(...) ZENML_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) ZENML_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) ZENML_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define RELEASE(...) ZENML_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) \
  ZENML_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) ZENML_THREAD_ANNOTATION_(assert_capability(x))
#define RETURN_CAPABILITY(x) ZENML_THREAD_ANNOTATION_(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS \
  ZENML_THREAD_ANNOTATION_(no_thread_safety_analysis)

#endif  // ZENML_CORE_THREAD_ANNOTATIONS_H_
