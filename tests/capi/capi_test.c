/* The C API (zenml/analytics.h) from a strict C11 program: track, flush,
 * stats, bad input, close, status JSON, opt-out and opt-in, and fork (a
 * child tracks through a client its parent had in use). Exits 0 when every
 * check holds, 1 and a line per failed check otherwise. */

#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zenml/analytics.h>

static int failures = 0;

/* Under AddressSanitizer (the asan preset: gcc 12's libasan) a child forked
 * while another thread is inside ASan's allocator inherits that allocator's
 * lock held and deadlocks at its first allocation: that runtime has no fork
 * handler (glibc's malloc, which users run, has one). TestFork forks while
 * the client's writer thread writes, so under ASan it hung (ctest's timeout,
 * once in CI). It runs in the gcc, clang and ThreadSanitizer suites. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* The watchdog: every call here is bounded (flushes by their timeouts), so
 * a run that makes no progress for kWatchdogSeconds is a hang. It says at
 * which check, shows every thread's stack (when gdb is installed) and
 * fails, before ctest's timeout kills the test without a word. */
enum { kWatchdogSeconds = 90 };
static volatile sig_atomic_t check_line = 0; /* the CHECK being evaluated */
static volatile pid_t child_pid = 0;         /* the fork test's child */

#define CHECK(cond)                                                           \
  do {                                                                        \
    check_line = __LINE__;                                                    \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, \
              __LINE__, #cond, zenml_analytics_last_error());                 \
      failures++;                                                             \
    }                                                                         \
  } while (0)

/* Writes `n` in decimal to `out` (async-signal-safe); returns `out`. */
static char* Decimal(long n, char out[24]) {
  char digits[24];
  int len = 0;
  do {
    digits[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0 && len < 23);
  for (int i = 0; i < len; ++i) out[i] = digits[len - 1 - i];
  out[len] = '\0';
  return out;
}

static void Say(const char* text) {
  ssize_t ignored = write(2, text, strlen(text));
  (void)ignored;
}

/* gdb's "thread apply all bt" of `pid`, on stderr. */
static void Backtrace(pid_t pid) {
  char number[24];
  Decimal((long)pid, number);
  pid_t gdb = fork();
  if (gdb == 0) {
    dup2(2, 1);
    execlp("gdb", "gdb", "-q", "-batch", "-p", number, "-ex",
           "thread apply all bt", (char*)NULL);
    _exit(127);
  }
  if (gdb > 0) waitpid(gdb, NULL, 0);
}

static void OnWatchdog(int sig) {
  (void)sig;
  char number[24];
  Say("capi_test: still running after 90 s (it takes well under one), at the "
      "check on line ");
  Say(Decimal((long)check_line, number));
  Say("; stacks follow (if gdb is installed)\n");
  Backtrace(getpid());
  if (child_pid > 0) {
    Say("capi_test: the fork test's child:\n");
    Backtrace(child_pid);
    kill(child_pid, SIGKILL);
  }
  _exit(2);
}

/* The number after "\"key\":" in `json`, or -1 (null or absent). */
static long JsonNumber(const char* json, const char* key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char* at = strstr(json, pattern);
  if (at == NULL) return -1;
  at += strlen(pattern);
  if (*at < '0' || *at > '9') return -1;
  return strtol(at, NULL, 10);
}

static long PendingEvents(const char* dir) {
  char* json = NULL;
  CHECK(zenml_analytics_status_json(dir, "9.9.9", &json) == ZENML_ANALYTICS_OK);
  if (json == NULL) return -2;
  long n = JsonNumber(json, "pending_events");
  zenml_analytics_free(json);
  return n;
}

static zenml_analytics_client* NewClient(const char* dir) {
  zenml_analytics_options o;
  zenml_analytics_options_init(&o);
  o.config_dir = dir;
  o.zenml_version = "1.2.3";
  o.auto_upload = 0;
  zenml_analytics_client* c = NULL;
  CHECK(zenml_analytics_client_new(&o, &c) == ZENML_ANALYTICS_OK);
  CHECK(c != NULL);
  return c;
}

static void TestStatusCodes(void) {
  for (int s = -20; s <= 5; ++s) {
    CHECK(zenml_analytics_strerror((zenml_analytics_status)s) != NULL);
  }
  CHECK(strcmp(zenml_analytics_strerror(ZENML_ANALYTICS_OK), "ok") == 0);
  CHECK(zenml_analytics_version()[0] != '\0');
  CHECK(zenml_analytics_noop() == 0);

  zenml_analytics_options o;
  zenml_analytics_options_init(&o);
  CHECK(o.struct_size == sizeof o);
  o.struct_size = 0;
  zenml_analytics_client* c = (zenml_analytics_client*)&o;
  CHECK(zenml_analytics_client_new(&o, &c) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  CHECK(c == NULL);
  CHECK(zenml_analytics_client_new(NULL, NULL) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  zenml_analytics_client_free(NULL); /* a no-op */
}

static void TestTrackFlushStats(const char* dir) {
  zenml_analytics_client* c = NewClient(dir);
  const char props[] = "{\"step_count\":7,\"gpu\":true}";
  for (int i = 0; i < 100; ++i) {
    CHECK(zenml_analytics_track(c, "Pipeline run", props, strlen(props)) ==
          ZENML_ANALYTICS_OK);
  }
  CHECK(zenml_analytics_track(c, "Step created", NULL, 0) ==
        ZENML_ANALYTICS_OK);
  /* Bad input: refused, counted, nothing queued. */
  CHECK(zenml_analytics_track(c, "Pipeline run", "{\"a\":", 5) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  CHECK(strstr(zenml_analytics_last_error(), "properties") != NULL);
  CHECK(zenml_analytics_track(c, "Pipeline run", "[1]", 3) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  CHECK(zenml_analytics_track(c, "", NULL, 0) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  CHECK(zenml_analytics_track(c, "\xff\xfe", NULL, 0) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  CHECK(zenml_analytics_track(c, NULL, NULL, 0) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  CHECK(zenml_analytics_flush(c, 10000) == ZENML_ANALYTICS_OK);

  zenml_analytics_stats s = ZENML_ANALYTICS_STATS_INIT;
  CHECK(zenml_analytics_client_stats(c, &s) == ZENML_ANALYTICS_OK);
  CHECK(s.struct_size == sizeof s);
  CHECK(s.accepted == 101);
  CHECK(s.written == 101);
  CHECK(s.queued == 0);
  CHECK(s.rejected_invalid == 4); /* the NULL event is not an event */
  CHECK(s.disabled == 0);
  CHECK(PendingEvents(dir) == 101);

  /* The struct's size says how much the library may write: a caller built
   * against this header gets its struct filled and not a byte past it; a
   * size below the first version is refused, the struct untouched. */
  unsigned char buf[sizeof(zenml_analytics_stats) + 16];
  memset(buf, 0xab, sizeof buf);
  size_t size = sizeof(zenml_analytics_stats);
  memcpy(buf, &size, sizeof size);
  CHECK(zenml_analytics_client_stats(c, (zenml_analytics_stats*)buf) ==
        ZENML_ANALYTICS_OK);
  zenml_analytics_stats got;
  memcpy(&got, buf, sizeof got);
  CHECK(got.struct_size == sizeof got && got.accepted == 101 &&
        got.write_errors == 0);
  for (size_t i = sizeof(zenml_analytics_stats); i < sizeof buf; ++i) {
    CHECK(buf[i] == 0xab);
  }
  zenml_analytics_stats small = ZENML_ANALYTICS_STATS_INIT;
  small.struct_size = sizeof small - sizeof small.write_errors;
  small.accepted = 7;
  CHECK(zenml_analytics_client_stats(c, &small) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
  CHECK(strstr(zenml_analytics_last_error(), "struct_size") != NULL);
  CHECK(small.accepted == 7);
  CHECK(zenml_analytics_client_stats(c, NULL) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);

  CHECK(zenml_analytics_client_close(c) == ZENML_ANALYTICS_OK);
  CHECK(zenml_analytics_track(c, "Pipeline run", NULL, 0) ==
        ZENML_ANALYTICS_E_CLOSED);
  CHECK(zenml_analytics_client_close(c) == ZENML_ANALYTICS_OK);
  zenml_analytics_client_free(c);
}

static void TestStatusJson(const char* dir) {
  char* json = NULL;
  CHECK(zenml_analytics_status_json(dir, "4.5.6", &json) == ZENML_ANALYTICS_OK);
  if (json == NULL) return;
  CHECK(strstr(json, "\"consent\":{\"allowed\":true") != NULL);
  CHECK(strstr(json, "\"zenml_version\":\"4.5.6\"") != NULL);
  CHECK(strstr(json, "\"anonymous_id\":\"") != NULL);
  CHECK(strstr(json, "\"spool_dir\":") != NULL);
  zenml_analytics_free(json);
  CHECK(zenml_analytics_status_json(dir, NULL, NULL) ==
        ZENML_ANALYTICS_E_INVALID_ARGUMENT);
}

static void TestOptOutIn(const char* dir) {
  zenml_analytics_client* c = NewClient(dir);
  CHECK(zenml_analytics_track(c, "Pipeline run", NULL, 0) ==
        ZENML_ANALYTICS_OK);
  CHECK(zenml_analytics_opt_out(dir) == ZENML_ANALYTICS_OK);
  CHECK(PendingEvents(dir) == 0); /* purged, the event just tracked too */
  CHECK(zenml_analytics_track(c, "Pipeline run", NULL, 0) ==
        ZENML_ANALYTICS_DISABLED);
  CHECK(zenml_analytics_flush(c, 5000) == ZENML_ANALYTICS_OK);
  CHECK(PendingEvents(dir) == 0);
  zenml_analytics_stats s = ZENML_ANALYTICS_STATS_INIT;
  CHECK(zenml_analytics_client_stats(c, &s) == ZENML_ANALYTICS_OK);
  CHECK(s.disabled == 1);

  char* json = NULL;
  CHECK(zenml_analytics_status_json(dir, NULL, &json) == ZENML_ANALYTICS_OK);
  CHECK(json != NULL && strstr(json, "\"consent\":{\"allowed\":false") != NULL);
  zenml_analytics_free(json);

  CHECK(zenml_analytics_opt_in(dir) == ZENML_ANALYTICS_OK);
  CHECK(zenml_analytics_track(c, "Pipeline run", NULL, 0) ==
        ZENML_ANALYTICS_OK);
  CHECK(zenml_analytics_flush(c, 10000) == ZENML_ANALYTICS_OK);
  CHECK(PendingEvents(dir) == 1);
  zenml_analytics_client_free(c);
}

/* A parent with the spool open forks; the child tracks through the same
 * client object, flushes and _exits (no destructor runs). Everything both
 * tracked is in the spool exactly once. */
static void TestFork(const char* dir) {
  long before = PendingEvents(dir);
  zenml_analytics_client* c = NewClient(dir);
  for (int i = 0; i < 50; ++i) {
    CHECK(zenml_analytics_track(c, "Pipeline run", NULL, 0) ==
          ZENML_ANALYTICS_OK);
  }
  CHECK(zenml_analytics_flush(c, 10000) == ZENML_ANALYTICS_OK);
  for (int i = 0; i < 50; ++i) { /* some still queued at the fork */
    CHECK(zenml_analytics_track(c, "Pipeline run", NULL, 0) ==
          ZENML_ANALYTICS_OK);
  }
  pid_t pid = fork();
  if (pid > 0) child_pid = pid;
  if (pid == 0) {
    int ok = 1;
    for (int i = 0; i < 30; ++i) {
      ok &= zenml_analytics_track(c, "Step created", NULL, 0) ==
            ZENML_ANALYTICS_OK;
    }
    ok &= zenml_analytics_flush(c, 10000) == ZENML_ANALYTICS_OK;
    zenml_analytics_stats s = ZENML_ANALYTICS_STATS_INIT;
    ok &= zenml_analytics_client_stats(c, &s) == ZENML_ANALYTICS_OK;
    ok &= s.written == 30; /* its own events only */
    _exit(ok ? 0 : 3);
  }
  CHECK(pid > 0);
  int wstatus = 0;
  CHECK(waitpid(pid, &wstatus, 0) == pid);
  child_pid = 0;
  CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  CHECK(zenml_analytics_flush(c, 10000) == ZENML_ANALYTICS_OK);
  zenml_analytics_client_free(c);
  CHECK(PendingEvents(dir) == before + 130);
}

int main(void) {
  struct sigaction watchdog;
  memset(&watchdog, 0, sizeof watchdog);
  watchdog.sa_handler = OnWatchdog;
  sigaction(SIGALRM, &watchdog, NULL);
  alarm(kWatchdogSeconds);
  char dir[] = "/tmp/zenml-capi-test-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  TestStatusCodes();
  TestTrackFlushStats(dir);
  TestStatusJson(dir);
  TestOptOutIn(dir);
  if (UNDER_ASAN) {
    printf(
        "capi_test: the fork test is skipped under AddressSanitizer (its "
        "allocator is not fork-safe with threads)\n");
  } else {
    TestFork(dir);
  }
  if (failures == 0) {
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("capi_test: all checks passed\n");
    return 0;
  }
  fprintf(stderr, "capi_test: %d checks failed (files kept in %s)\n", failures,
          dir);
  return 1;
}
