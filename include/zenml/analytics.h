/* zenml/analytics.h: the C API of zenml-analytics, for programs that are not
 * C++ (ZenML's Python package binds it; any language with a C FFI can).
 *
 * What it does: records ZenML usage events into the offline spool, exactly as
 * the C++ zenml::client::Client does (same bytes, same messageId format, same
 * consent rules), and answers the consent questions of `zenml-analytics`
 * (opt-in, opt-out, status).
 *
 *   zenml_analytics_options o;
 *   zenml_analytics_options_init(&o);
 *   o.zenml_version = "0.5.1";
 *   zenml_analytics_client* c = NULL;
 *   if (zenml_analytics_client_new(&o, &c) == ZENML_ANALYTICS_OK) {
 *     zenml_analytics_track(c, "Pipeline run", "{\"steps\":3}", 11);
 *     zenml_analytics_client_free(c);  // flushes, at most 1 s by default
 *   }
 *
 * How it fails: every function returns a zenml_analytics_status (or is
 * documented never to fail). Nothing aborts, nothing throws across this
 * boundary (C++ exceptions are caught inside), nothing prints. A function
 * that fails also keeps a one-line message for the calling thread,
 * zenml_analytics_last_error(). Opt-out is not an error:
 * zenml_analytics_track returns ZENML_ANALYTICS_DISABLED (positive).
 *
 * Thread safety: zenml_analytics_track, _flush, _client_stats and
 * _client_close may be called on one client from any number of threads at
 * once. zenml_analytics_client_free must be the last call on a client (no
 * call may run or start during or after it). The consent functions are
 * thread-safe.
 *
 * fork(2): a client survives fork. In the child, the parent's writer thread
 * does not exist; the first call there sets up a fresh writer for the child
 * (the parent's queued events stay the parent's, never written twice). When
 * the parent had the spool's LevelDB database in use, the child writes its
 * events as inbox files in the same spool (ingested by the next process that
 * opens the database), never through the handle it inherited. See
 * docs/python.md "fork".
 *
 * ABI: the options and stats structs start with their own size; fields are
 * only ever added at their end. zenml_analytics_options_init fills the
 * options a caller compiled against an older header does not know, and
 * zenml_analytics_client_stats writes no more than the caller's struct
 * holds. Status codes are only ever added. Strings are NUL-terminated UTF-8
 * unless a length is given. */

#ifndef ZENML_ANALYTICS_H_
#define ZENML_ANALYTICS_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define ZENML_ANALYTICS_C_API
#elif defined(__GNUC__) || defined(__clang__)
/* The library is built with hidden visibility; these are its C exports. */
#define ZENML_ANALYTICS_C_API __attribute__((visibility("default")))
#else
#define ZENML_ANALYTICS_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Outcomes. 0 is success, positive values are non-error outcomes, negative
 * values are errors. */
typedef enum zenml_analytics_status {
  ZENML_ANALYTICS_OK = 0,
  /* Consent is withheld (config.yaml, ZENML_ANALYTICS_OPT_IN, DO_NOT_TRACK):
   * nothing was recorded and no file was touched. */
  ZENML_ANALYTICS_DISABLED = 1,
  /* Bad input: empty event name, invalid UTF-8, properties that are not a
   * JSON object, a message over 32,000 bytes, NULL where not allowed. */
  ZENML_ANALYTICS_E_INVALID_ARGUMENT = -1,
  /* The client's queue is full: the event was dropped and counted. */
  ZENML_ANALYTICS_E_QUEUE_FULL = -2,
  /* flush: not everything was durable within the timeout. */
  ZENML_ANALYTICS_E_TIMEOUT = -3,
  /* The OS refused a read or a write (spool, config.yaml). */
  ZENML_ANALYTICS_E_IO = -4,
  /* Another process held the spool past the lock wait; try later. */
  ZENML_ANALYTICS_E_BUSY = -5,
  ZENML_ANALYTICS_E_PERMISSION = -6,
  /* No config dir can be found (ZENML_CONFIG_PATH, XDG_CONFIG_HOME, HOME
   * unset), or config.yaml is broken (never overwritten). */
  ZENML_ANALYTICS_E_CONFIG = -7,
  ZENML_ANALYTICS_E_NO_MEMORY = -8,
  /* The client was closed (zenml_analytics_client_close). */
  ZENML_ANALYTICS_E_CLOSED = -9,
  /* Stored data is damaged. */
  ZENML_ANALYTICS_E_CORRUPTION = -10,
  /* A bug in this library. */
  ZENML_ANALYTICS_E_INTERNAL = -11
} zenml_analytics_status;

/* A short constant English text for `status` ("ok", "queue full", ...).
 * Never NULL, also for unknown values. Never fails. */
ZENML_ANALYTICS_C_API const char* zenml_analytics_strerror(
    zenml_analytics_status status);

/* The message of the last failed call on this thread (e.g. "invalid JSON at
 * offset 3: ..."), or "" when none failed yet. Valid until the next call of
 * this API on the same thread. Never NULL. */
ZENML_ANALYTICS_C_API const char* zenml_analytics_last_error(void);

/* This library's version, e.g. "0.1.0". Never NULL. */
ZENML_ANALYTICS_C_API const char* zenml_analytics_version(void);

typedef struct zenml_analytics_options {
  /* sizeof(zenml_analytics_options) as the caller compiled it. Set by
   * zenml_analytics_options_init; lets the library grow the struct. */
  size_t struct_size;
  /* ZenML's config dir; NULL or "": $ZENML_CONFIG_PATH, else
   * $XDG_CONFIG_HOME/zenml, else $HOME/.config/zenml. Copied. */
  const char* config_dir;
  /* The caller's ZenML version, reported as context.zenml.version; NULL or
   * "": the build-time default. Copied. */
  const char* zenml_version;
  /* The most events waiting for the writer; 0: 10,000. */
  size_t queue_capacity;
  /* Non-zero: zenml_analytics_track returns only once the event is durable
   * (it then blocks on the disk). Default 0. */
  int synchronous;
  /* How long zenml_analytics_client_close/_free wait for the writer before
   * writing what is left to an inbox file; 0: 1000 ms. */
  uint32_t flush_on_exit_timeout_ms;
  /* 1: at close, may start `zenml-upload` detached when an upload is due
   * (docs/scheduling.md); 0: never. Default 1 (ZENML_ANALYTICS_AUTO_UPLOAD=0
   * and config.yaml still turn it off). */
  int auto_upload;
} zenml_analytics_options;

/* Fills `options` with the defaults (and struct_size). Never fails. */
ZENML_ANALYTICS_C_API void zenml_analytics_options_init(
    zenml_analytics_options* options);

typedef struct zenml_analytics_client zenml_analytics_client;

/* Creates a client. `options` NULL: all defaults. Touches no file: consent is
 * decided at the first track (and again after opt_in/opt_out in this
 * process), the spool is created only when an event is written. On success
 * *out receives the client; else *out is NULL. Errors: INVALID_ARGUMENT
 * (out NULL, struct_size 0 or too small), NO_MEMORY. */
ZENML_ANALYTICS_C_API zenml_analytics_status zenml_analytics_client_new(
    const zenml_analytics_options* options, zenml_analytics_client** out);

/* Records one event: `event` (NUL-terminated UTF-8, a catalogue name such as
 * "Pipeline run" or your own) with `properties_json`, `properties_len` bytes
 * of a JSON object (NULL or length 0: {}). Validates, serializes and queues
 * on the calling thread, then returns without waiting for the disk (unless
 * synchronous). Returns OK (queued), DISABLED (opted out: nothing happened),
 * INVALID_ARGUMENT (nothing queued; counted), QUEUE_FULL (dropped; counted),
 * CLOSED, or the config dir's error (CONFIG, IO, PERMISSION, CORRUPTION). */
ZENML_ANALYTICS_C_API zenml_analytics_status
zenml_analytics_track(zenml_analytics_client* client, const char* event,
                      const char* properties_json, size_t properties_len);

/* Waits until every event this client accepted before the call is durable
 * (in the spool database or an inbox file), at most `timeout_ms`. OK, or
 * TIMEOUT (the events stay queued; the writer keeps trying). */
ZENML_ANALYTICS_C_API zenml_analytics_status
zenml_analytics_flush(zenml_analytics_client* client, uint32_t timeout_ms);

/* What the client did so far (counted since it was created). */
typedef struct zenml_analytics_stats {
  /* sizeof(zenml_analytics_stats) as the caller compiled it: set it before
   * the call (ZENML_ANALYTICS_STATS_INIT does). Lets the library add
   * counters without writing past an older caller's struct. */
  size_t struct_size;
  uint64_t accepted;           /* tracked and queued */
  uint64_t written;            /* made durable */
  uint64_t written_to_inbox;   /* ... of which as inbox files */
  uint64_t queued;             /* waiting for the writer now */
  uint64_t dropped_queue_full; /* refused: queue full */
  uint64_t rejected_invalid;   /* refused: bad input */
  uint64_t disabled;           /* not recorded: opted out */
  uint64_t write_errors;       /* failed writes (retried, never dropped) */
} zenml_analytics_stats;

/* An initializer for a stats struct of this header's size:
 *   zenml_analytics_stats s = ZENML_ANALYTICS_STATS_INIT; */
#define ZENML_ANALYTICS_STATS_INIT \
  { sizeof(zenml_analytics_stats), 0, 0, 0, 0, 0, 0, 0, 0 }

/* Fills the first stats->struct_size bytes of `*stats` (the counters the
 * caller's header knows; struct_size keeps its value). INVALID_ARGUMENT for
 * NULL arguments or a struct_size smaller than the first version of the
 * struct (struct_size and the eight counters above). After close, the counters
 * of the closed writers are gone: only `disabled` and the properties that did
 * not parse remain. In a forked child, the writers' counters start again from
 * zero. */
ZENML_ANALYTICS_C_API zenml_analytics_status zenml_analytics_client_stats(
    zenml_analytics_client* client, zenml_analytics_stats* stats);

/* Stops the client: later tracks return CLOSED; waits for the writer at most
 * flush_on_exit_timeout_ms, then writes whatever is left to an inbox file,
 * so nothing accepted is lost by a normal exit. Safe while other threads
 * track (they get CLOSED). Idempotent. Returns OK. */
ZENML_ANALYTICS_C_API zenml_analytics_status
zenml_analytics_client_close(zenml_analytics_client* client);

/* zenml_analytics_client_close, then frees the client. NULL is a no-op. */
ZENML_ANALYTICS_C_API void zenml_analytics_client_free(
    zenml_analytics_client* client);

/* Consent, as `zenml-analytics opt-in` / `opt-out` do. `config_dir` NULL or
 * "": resolved from the environment as for the client. opt_in writes
 * `analytics_opt_in: true` to config.yaml and creates the anonymous id;
 * opt_out writes `analytics_opt_in: false`, makes every client of this
 * process stop recording, and deletes every pending event of the spool (as
 * `zenml-analytics opt-out`: when another process holds the spool past 5 s,
 * the inbox files are deleted at once and a purge request makes that process,
 * or the next one to open the spool, delete the rest before anything else;
 * OK). Errors: CONFIG (no config dir, broken config.yaml), IO, PERMISSION,
 * BUSY (opt_out in a child forked from a process with the spool open: the
 * setting is saved; zenml-upload purges at its next run). */
ZENML_ANALYTICS_C_API zenml_analytics_status
zenml_analytics_opt_in(const char* config_dir);
ZENML_ANALYTICS_C_API zenml_analytics_status
zenml_analytics_opt_out(const char* config_dir);

/* The object `zenml-analytics status --json` prints (schema 1, same keys and
 * values: schema, consent {allowed, source, detail}, anonymous_id,
 * config_dir, zenml_version, os, library_version, spool_dir,
 * pending_events, ...) minus the upload configuration only the CLI reports
 * (will_upload, write_key, endpoint, upload_config, system_upload_config,
 * system_upload_config_skipped, upload_config_error, auto_upload), as a
 * NUL-terminated malloc'd string in *json_out, to be released with
 * zenml_analytics_free.
 * `zenml_version` NULL or "": the build default. Creates nothing. */
ZENML_ANALYTICS_C_API zenml_analytics_status zenml_analytics_status_json(
    const char* config_dir, const char* zenml_version, char** json_out);

/* Frees a string this API returned. NULL is a no-op. */
ZENML_ANALYTICS_C_API void zenml_analytics_free(char* text);

/* Does nothing, as fast as a call can (the floor of benchmarks). */
ZENML_ANALYTICS_C_API int zenml_analytics_noop(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ZENML_ANALYTICS_H_ */
