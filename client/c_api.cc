// The C API (include/zenml/analytics.h) over zenml::client::Client.
//
// A zenml_analytics_client owns one "current" Client and the Clients it
// retired. The current one is made lazily, at the first track, so consent is
// decided then; opt_in/opt_out in this process retire it (the next track
// makes a new one, which decides consent again); fork(2) forgets it in the
// child (below). Retired Clients keep writing what they accepted and are
// destroyed (flush, then inbox) at close, never while a track may use them.
//
// close vs. concurrent tracks: each call counts itself in `inflight` and
// then checks `closed`; close sets `closed` and waits for `inflight` to drain
// (calls are microseconds), so no Client is destroyed under a caller.
//
// fork: a pthread_atfork child handler walks every live client and, with
// only the forking thread alive, leaks their Clients (their writer threads do
// not exist in the child, their mutexes may be locked, their queued events
// are the parent's to write) and re-creates the locks. When this process had
// used the spool's database before the fork, the child's new Clients write
// inbox files only (ClientOptions::inbox_only): LevelDB's process state the
// child inherited (its lock table, its background compaction thread) cannot
// be used there, while inbox files need none of it.

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/c_api_internal.h"
#include "client/client.h"
#include "client/purge_request.h"
#include "client/status_facts.h"
#include "core/config_dir.h"
#include "core/consent.h"
#include "core/context.h"
#include "core/global_config.h"
#include "core/mutex.h"
#include "core/timestamp.h"
#include "include/zenml/analytics.h"
#include "spool/spool.h"

using zenml::client::Client;
using zenml::client::ClientOptions;
using zenml::core::Status;

struct zenml_analytics_client {
  ClientOptions options;  // the template of every Client made
  std::atomic<Client*> current{nullptr};
  std::atomic<int64_t> inflight{0};
  std::atomic<bool> closed{false};
  zenml::core::Mutex mu;  // guards owned and the making of a Client
  std::vector<std::unique_ptr<Client>> owned GUARDED_BY(mu);  // all made
  std::atomic<uint64_t> disabled{0};
  std::atomic<uint64_t> rejected_outside{0};  // refused by a binding
};

namespace {

using zenml_analytics_client_t = zenml_analytics_client;

thread_local std::string last_error;

// Live clients, for opt_in/opt_out and the fork handler. Pointers, so the
// child handler can re-create them without running a destructor.
zenml::core::Mutex* clients_mu = new zenml::core::Mutex();
std::set<zenml_analytics_client_t*>* clients PT_GUARDED_BY(clients_mu) =
    new std::set<zenml_analytics_client_t*>();

// This process had (or may have had) the spool's database open: set before a
// Client that may write is made, and when status or opt_out open it.
std::atomic<bool> spool_used{false};
// LevelDB state inherited from a parent that used the database.
std::atomic<bool> spool_inherited{false};

// Only this thread exists: no lock is needed, and none may be trusted (hence
// no analysis: it re-creates the very mutexes it would have to hold).
void AfterForkInChild() NO_THREAD_SAFETY_ANALYSIS {
  if (spool_used.load()) spool_inherited.store(true);
  clients_mu = new (clients_mu) zenml::core::Mutex();
  for (zenml_analytics_client_t* c : *clients) {
    new (&c->mu) zenml::core::Mutex();
    for (auto& owned : c->owned) (void)owned.release();  // leaked on purpose
    c->owned.clear();
    c->current.store(nullptr);
    c->inflight.store(0);
  }
}

void RegisterForkHandlerOnce() {
  static const int registered =
      ::pthread_atfork(nullptr, nullptr, AfterForkInChild);
  (void)registered;
}

zenml_analytics_status Fail(zenml_analytics_status code, std::string message) {
  try {
    last_error = std::move(message);
  } catch (...) {
  }
  return code;
}

zenml_analytics_status FromStatus(const Status& s) {
  using C = Status::Code;
  zenml_analytics_status code = ZENML_ANALYTICS_E_INTERNAL;
  switch (s.code()) {
    case C::kOk:
      return ZENML_ANALYTICS_OK;
    case C::kInvalidArgument:
      code = ZENML_ANALYTICS_E_INVALID_ARGUMENT;
      break;
    case C::kResourceExhausted:
      code = s.message().find("out of memory") != std::string::npos
                 ? ZENML_ANALYTICS_E_NO_MEMORY
                 : ZENML_ANALYTICS_E_QUEUE_FULL;
      break;
    case C::kDeadlineExceeded:
      code = ZENML_ANALYTICS_E_TIMEOUT;
      break;
    case C::kIoError:
    case C::kNotFound:
    case C::kUnavailable:
      code = ZENML_ANALYTICS_E_IO;
      break;
    case C::kBusy:
      code = ZENML_ANALYTICS_E_BUSY;
      break;
    case C::kPermissionDenied:
      code = ZENML_ANALYTICS_E_PERMISSION;
      break;
    case C::kFailedPrecondition:
      code = ZENML_ANALYTICS_E_CONFIG;
      break;
    case C::kCorruption:
      code = ZENML_ANALYTICS_E_CORRUPTION;
      break;
    case C::kInternal:
      code = ZENML_ANALYTICS_E_INTERNAL;
      break;
  }
  return Fail(code, s.message());
}

// Runs `body`; any exception becomes a status (nothing crosses into C).
template <typename F>
zenml_analytics_status Guarded(F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(ZENML_ANALYTICS_E_NO_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return Fail(ZENML_ANALYTICS_E_INTERNAL,
                std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return Fail(ZENML_ANALYTICS_E_INTERNAL, "unexpected exception");
  }
}

// Counts a call in `inflight` for its duration (see the file comment).
class CallGuard {
 public:
  explicit CallGuard(zenml_analytics_client_t* c) : c_(c) {
    c_->inflight.fetch_add(1);
    open_ = !c_->closed.load();
  }
  ~CallGuard() { c_->inflight.fetch_sub(1); }
  bool open() const { return open_; }

 private:
  zenml_analytics_client_t* c_;
  bool open_;
};

zenml_analytics_status Closed() {
  return Fail(ZENML_ANALYTICS_E_CLOSED, "the analytics client is closed");
}

// The current Client, made if there is none. Null when closed.
Client* Current(zenml_analytics_client_t* c) {
  Client* client = c->current.load(std::memory_order_acquire);
  if (client != nullptr) return client;
  zenml::core::MutexLock lock(&c->mu);
  client = c->current.load(std::memory_order_acquire);
  if (client != nullptr || c->closed.load()) return client;
  ClientOptions options = c->options;
  if (spool_inherited.load()) {
    options.inbox_only = true;
    options.auto_upload = false;  // its check would open the database
  }
  spool_used.store(true);  // before any write can happen
  c->owned.push_back(std::make_unique<Client>(std::move(options)));
  client = c->owned.back().get();
  c->current.store(client, std::memory_order_release);
  return client;
}

// Every Client of `c` (current and retired), for flush and stats.
std::vector<Client*> AllClients(zenml_analytics_client_t* c) {
  zenml::core::MutexLock lock(&c->mu);
  std::vector<Client*> all;
  for (auto& owned : c->owned) all.push_back(owned.get());
  return all;
}

// After a consent change in this process: every client makes a new Client
// at its next track, which decides consent again. `flush`: wait (1 s at
// most) for what the retired ones accepted, so a purge comes after it.
void RetireAll(bool flush) {
  std::vector<Client*> retired;
  {
    zenml::core::MutexLock lock(clients_mu);
    for (zenml_analytics_client_t* c : *clients) {
      zenml::core::MutexLock client_lock(&c->mu);
      if (Client* old = c->current.exchange(nullptr)) retired.push_back(old);
    }
    if (flush) {
      for (Client* old : retired) (void)old->Flush(std::chrono::seconds(1));
    }
  }
}

zenml::core::Result<std::filesystem::path> ConfigDir(const char* config_dir) {
  if (config_dir != nullptr && config_dir[0] != '\0') {
    return std::filesystem::path(config_dir);
  }
  return zenml::core::ResolveConfigDir(zenml::core::ProcessEnvironment());
}

// The spool's part of the status object: the keys and values of
// `zenml-analytics status --json` (tools/zenml-analytics/spool_hooks.cc);
// python/tests compares the two. The counts are null when they cannot be
// read (the CLI prints a warning then), and in a process that inherited the
// database from its parent, which must not open it.
void AddSpoolStatus(const std::filesystem::path& config_dir,
                    zenml::core::Value& out) {
  namespace core = zenml::core;
  namespace spool = zenml::spool;
  const std::filesystem::path dir = core::AnalyticsDir(config_dir);
  spool::SpoolStats stats;
  bool known = !spool_inherited.load();
  std::error_code ec;
  if (known && std::filesystem::exists(dir, ec)) {
    spool_used.store(true);
    spool::SpoolOptions options;
    options.dir = dir;
    spool::Spool spool(options);
    auto got = spool.Stats();
    known = got.ok();
    if (known) stats = std::move(got).value();
  }
  // The names and shapes of the CLI's (client/status_facts.h); null where
  // the spool could not be read.
  out.Set("spool_dir", dir.string());
  core::Value facts = core::Value::Object{};
  zenml::client::AppendSpoolFacts(stats, facts);
  for (auto& [key, value] : facts.as_object()) {
    out.Set(key, known ? std::move(value) : core::Value());
  }
}

}  // namespace

namespace zenml::client::capi {

zenml_analytics_status TrackValue(zenml_analytics_client* c,
                                  std::string_view event,
                                  const core::Value& properties) {
  return Guarded([&]() -> zenml_analytics_status {
    if (c == nullptr) {
      return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT, "client is NULL");
    }
    CallGuard guard(c);
    if (!guard.open()) return Closed();
    Client* client = Current(c);
    if (client == nullptr) return Closed();
    if (!client->consent().allowed) {
      c->disabled.fetch_add(1, std::memory_order_relaxed);
      return ZENML_ANALYTICS_DISABLED;
    }
    Status s = client->Track(event, properties);
    return s.ok() ? ZENML_ANALYTICS_OK : FromStatus(s);
  });
}

void CountRejected(zenml_analytics_client* c) {
  if (c != nullptr) c->rejected_outside.fetch_add(1, std::memory_order_relaxed);
}

bool IsSynchronous(const zenml_analytics_client* c) {
  return c != nullptr && c->options.synchronous;
}

}  // namespace zenml::client::capi

extern "C" {

const char* zenml_analytics_strerror(zenml_analytics_status status) {
  switch (status) {
    case ZENML_ANALYTICS_OK:
      return "ok";
    case ZENML_ANALYTICS_DISABLED:
      return "analytics are off (opted out); nothing was recorded";
    case ZENML_ANALYTICS_E_INVALID_ARGUMENT:
      return "invalid argument";
    case ZENML_ANALYTICS_E_QUEUE_FULL:
      return "queue full: the event was dropped";
    case ZENML_ANALYTICS_E_TIMEOUT:
      return "timed out";
    case ZENML_ANALYTICS_E_IO:
      return "I/O error";
    case ZENML_ANALYTICS_E_BUSY:
      return "busy: another process holds the spool; try later";
    case ZENML_ANALYTICS_E_PERMISSION:
      return "permission denied";
    case ZENML_ANALYTICS_E_CONFIG:
      return "configuration error";
    case ZENML_ANALYTICS_E_NO_MEMORY:
      return "out of memory";
    case ZENML_ANALYTICS_E_CLOSED:
      return "the client is closed";
    case ZENML_ANALYTICS_E_CORRUPTION:
      return "stored data is damaged";
    case ZENML_ANALYTICS_E_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

const char* zenml_analytics_last_error(void) { return last_error.c_str(); }

const char* zenml_analytics_version(void) {
  return zenml::core::LibraryVersion().data();  // a NUL-terminated literal
}

void zenml_analytics_options_init(zenml_analytics_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof(*options));
  options->struct_size = sizeof(*options);
  options->auto_upload = 1;
}

zenml_analytics_status zenml_analytics_client_new(
    const zenml_analytics_options* options, zenml_analytics_client** out) {
  if (out == nullptr) {
    return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT, "out is NULL");
  }
  *out = nullptr;
  return Guarded([&]() -> zenml_analytics_status {
    zenml_analytics_options o;
    zenml_analytics_options_init(&o);
    if (options != nullptr) {
      // The first version of the struct ends with auto_upload.
      constexpr size_t kMinSize =
          offsetof(zenml_analytics_options, auto_upload) + sizeof(int);
      if (options->struct_size < kMinSize) {
        return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT,
                    "options.struct_size is too small: call "
                    "zenml_analytics_options_init first");
      }
      std::memcpy(&o, options, std::min(options->struct_size, sizeof(o)));
    }
    auto c = std::make_unique<zenml_analytics_client>();
    ClientOptions& co = c->options;
    if (o.config_dir != nullptr) co.config_dir = o.config_dir;
    if (o.zenml_version != nullptr) co.zenml_version = o.zenml_version;
    if (o.queue_capacity != 0) co.queue_capacity = o.queue_capacity;
    co.synchronous = o.synchronous != 0;
    if (o.flush_on_exit_timeout_ms != 0) {
      co.flush_on_exit_timeout =
          std::chrono::milliseconds(o.flush_on_exit_timeout_ms);
    }
    co.auto_upload = o.auto_upload != 0;
    RegisterForkHandlerOnce();
    {
      zenml::core::MutexLock lock(clients_mu);
      clients->insert(c.get());
    }
    *out = c.release();
    return ZENML_ANALYTICS_OK;
  });
}

zenml_analytics_status zenml_analytics_track(zenml_analytics_client* c,
                                             const char* event,
                                             const char* properties_json,
                                             size_t properties_len) {
  return Guarded([&]() -> zenml_analytics_status {
    if (c == nullptr || event == nullptr) {
      return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT,
                  "client or event is NULL");
    }
    zenml::core::Value properties;
    if (properties_json != nullptr && properties_len > 0) {
      auto parsed = zenml::core::ParseJson(
          std::string_view(properties_json, properties_len));
      if (!parsed.ok()) {
        zenml::client::capi::CountRejected(c);
        return FromStatus(parsed.status().WithContext("properties"));
      }
      properties = std::move(parsed).value();
    }
    return zenml::client::capi::TrackValue(c, event, properties);
  });
}

zenml_analytics_status zenml_analytics_flush(zenml_analytics_client* c,
                                             uint32_t timeout_ms) {
  return Guarded([&]() -> zenml_analytics_status {
    if (c == nullptr) {
      return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT, "client is NULL");
    }
    CallGuard guard(c);
    if (!guard.open()) return Closed();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(timeout_ms);
    for (Client* client : AllClients(c)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      Status s = client->Flush(std::max(left, std::chrono::milliseconds(0)));
      if (!s.ok()) return FromStatus(s);
    }
    return ZENML_ANALYTICS_OK;
  });
}

zenml_analytics_status zenml_analytics_client_stats(
    zenml_analytics_client* c, zenml_analytics_stats* stats) {
  return Guarded([&]() -> zenml_analytics_status {
    if (c == nullptr || stats == nullptr) {
      return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT,
                  "client or stats is NULL");
    }
    // The first version of the struct ends with write_errors.
    constexpr size_t kMinSize =
        offsetof(zenml_analytics_stats, write_errors) + sizeof(uint64_t);
    const size_t size = stats->struct_size;
    if (size < kMinSize) {
      return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT,
                  "stats.struct_size is too small: set it to "
                  "sizeof(zenml_analytics_stats) (ZENML_ANALYTICS_STATS_INIT)");
    }
    CallGuard guard(c);  // keeps the Clients alive while they are read
    zenml_analytics_stats out{};
    for (Client* client : AllClients(c)) {
      const zenml::client::ClientStats s = client->stats();
      out.accepted += s.accepted;
      out.written += s.written;
      out.written_to_inbox += s.written_to_inbox;
      out.queued += s.queued;
      out.dropped_queue_full += s.dropped_queue_full;
      out.rejected_invalid += s.rejected_invalid;
      out.write_errors += s.write_errors;
    }
    out.rejected_invalid += c->rejected_outside.load();
    out.disabled = c->disabled.load();
    // No more than the caller's struct holds; a newer caller's extra
    // fields (unknown here) keep what it put there.
    out.struct_size = size;
    std::memcpy(stats, &out, std::min(size, sizeof(out)));
    return ZENML_ANALYTICS_OK;
  });
}

zenml_analytics_status zenml_analytics_client_close(zenml_analytics_client* c) {
  return Guarded([&]() -> zenml_analytics_status {
    if (c == nullptr) return ZENML_ANALYTICS_OK;
    c->closed.store(true);
    while (c->inflight.load() != 0) std::this_thread::yield();
    std::vector<std::unique_ptr<Client>> owned;
    {
      zenml::core::MutexLock lock(&c->mu);
      owned.swap(c->owned);
      c->current.store(nullptr);
    }
    owned.clear();  // each flushes, then writes the rest to the inbox
    return ZENML_ANALYTICS_OK;
  });
}

void zenml_analytics_client_free(zenml_analytics_client* c) {
  if (c == nullptr) return;
  (void)zenml_analytics_client_close(c);
  try {
    zenml::core::MutexLock lock(clients_mu);
    clients->erase(c);
  } catch (...) {
  }
  delete c;
}

zenml_analytics_status zenml_analytics_opt_in(const char* config_dir) {
  return Guarded([&]() -> zenml_analytics_status {
    auto dir = ConfigDir(config_dir);
    if (!dir.ok()) return FromStatus(dir.status());
    Status s = zenml::core::SetOptIn(*dir, true);
    if (!s.ok()) return FromStatus(s);
    auto id = zenml::core::EnsureAnonymousId(*dir);
    if (!id.ok()) return FromStatus(id.status());
    RetireAll(/*flush=*/false);
    return ZENML_ANALYTICS_OK;
  });
}

zenml_analytics_status zenml_analytics_opt_out(const char* config_dir) {
  return Guarded([&]() -> zenml_analytics_status {
    auto dir = ConfigDir(config_dir);
    if (!dir.ok()) return FromStatus(dir.status());
    Status s = zenml::core::SetOptIn(*dir, false);
    if (!s.ok()) return FromStatus(s);
    // What clients of this process accepted is written before the purge, so
    // the purge deletes it too.
    RetireAll(/*flush=*/true);
    const std::filesystem::path analytics = zenml::core::AnalyticsDir(*dir);
    std::error_code ec;
    if (!std::filesystem::exists(analytics, ec)) return ZENML_ANALYTICS_OK;
    if (spool_inherited.load()) {
      return Fail(ZENML_ANALYTICS_E_BUSY,
                  "opted out, but this forked process cannot purge the spool "
                  "its parent has open; zenml-upload purges it at its next "
                  "run");
    }
    spool_used.store(true);
    // As `zenml-analytics opt-out` does: a spool another process holds past
    // the wait keeps a purge request, which that process or the next opener
    // carries out before anything else; the inbox files go at once.
    auto purged = zenml::client::PurgeOnOptOut(*dir);
    if (!purged.ok()) return FromStatus(purged.status());
    return ZENML_ANALYTICS_OK;
  });
}

zenml_analytics_status zenml_analytics_status_json(const char* config_dir,
                                                   const char* zenml_version,
                                                   char** json_out) {
  if (json_out == nullptr) {
    return Fail(ZENML_ANALYTICS_E_INVALID_ARGUMENT, "json_out is NULL");
  }
  *json_out = nullptr;
  return Guarded([&]() -> zenml_analytics_status {
    namespace core = zenml::core;
    auto dir = ConfigDir(config_dir);
    if (!dir.ok()) return FromStatus(dir.status());
    const core::Consent consent =
        core::DecideConsent(*dir, core::ProcessEnvironment());
    const core::Context context =
        core::DetectContext(zenml_version != nullptr ? zenml_version : "");
    core::Value id_value;
    std::string config_error;
    auto id = core::ReadAnonymousId(*dir);
    if (!id.ok()) {
      config_error = id.status().message();
    } else if (id->has_value()) {
      id_value = **id;
    }
    // The keys and order of tools/zenml-analytics/status.cc.
    core::Value out = core::Value::Object{};
    // The CLI adds the upload facts (write key, endpoint, auto-upload,
    // will_upload) between consent and anonymous_id; see status.cc.
    out.Set("schema", zenml::client::kStatusJsonSchema);
    out.Set("consent", zenml::client::ConsentValue(consent));
    out.Set("anonymous_id", id_value);
    out.Set("config_dir", dir->string());
    out.Set("zenml_version", context.zenml_version);
    out.Set("os", core::OsString(context));
    out.Set("library_version", std::string(core::LibraryVersion()));
    AddSpoolStatus(*dir, out);
    out.Set("config_error",
            config_error.empty() ? core::Value() : core::Value(config_error));
    auto text = core::ToJson(out);
    if (!text.ok()) return FromStatus(text.status());
    char* copy = static_cast<char*>(std::malloc(text->size() + 1));
    if (copy == nullptr)
      return Fail(ZENML_ANALYTICS_E_NO_MEMORY, "out of memory");
    std::memcpy(copy, text->c_str(), text->size() + 1);
    *json_out = copy;
    return ZENML_ANALYTICS_OK;
  });
}

void zenml_analytics_free(char* text) { std::free(text); }

int zenml_analytics_noop(void) { return 0; }

}  // extern "C"
