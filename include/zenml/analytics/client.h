// zenml::analytics::Client: records ZenML usage events into the local spool.
//
//   #include <zenml/analytics/client.h>
//
//   zenml::analytics::Client client;
//   zenml::analytics::Status s = client.Track(
//       zenml::analytics::Event::kPipelineRun, {{"steps", 3}});
//
// Track() validates and serializes on the caller's thread (microseconds) and
// queues the event; a background writer makes it durable in
// <config dir>/analytics. Nothing is sent from the calling process: the
// zenml-upload tool (zenml-upload(1)) sends spooled events, started from a
// timer, by hand, or (auto_upload) detached by the destructor when an upload
// is due. The destructor flushes for at most flush_on_exit_timeout and writes
// what is left to an inbox file, so a normal exit loses nothing.
//
// Consent (consent.h) is decided once, at construction; when withheld every
// Track() returns OK and nothing is written at all.
//
// Thread safety: Track(), Flush() and the queries may be called from any
// number of threads at once. Nothing throws into the caller; failures are
// Status values. ABI: Client holds only a pointer (pimpl); ClientOptions and
// ClientStats are plain structs whose layout is part of the ABI (a field added
// to either bumps the SONAME). C++17, standard library only.

#ifndef ZENML_ANALYTICS_CLIENT_H_
#define ZENML_ANALYTICS_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "zenml/analytics/consent.h"
#include "zenml/analytics/events.h"
#include "zenml/analytics/export.h"
#include "zenml/analytics/status.h"
#include "zenml/analytics/value.h"

namespace zenml::analytics {

struct ClientOptions {
  // ZenML's config dir. Empty: ZENML_CONFIG_PATH, else the platform's.
  std::string config_dir;

  // The ZenML version reported with every event. Empty: the library's
  // build-time default.
  std::string zenml_version;

  // The most events waiting for the writer at once; past it Track() returns
  // ResourceExhausted (the event is dropped and counted).
  size_t queue_capacity = 10'000;

  // How long the destructor waits for the writer before writing what is left
  // to the inbox: the most a normal exit is delayed.
  std::chrono::milliseconds flush_on_exit_timeout{1000};

  // Track() returns only once its event is durable, or with the error that
  // kept it from being written.
  bool synchronous = false;

  // At destruction, start `zenml-upload --quiet` detached when an upload is
  // due (docs/scheduling.md). ZENML_ANALYTICS_AUTO_UPLOAD=0 also turns it off.
  bool auto_upload = true;
};

// What a Client did so far; a snapshot, each field counted since construction.
struct ClientStats {
  uint64_t accepted = 0;            // Track() queued the event
  uint64_t dropped_queue_full = 0;  // Track() returned ResourceExhausted
  uint64_t rejected_invalid = 0;    // Track() returned InvalidArgument
  uint64_t write_errors = 0;        // failed writes (retried, not dropped)
  uint64_t written = 0;             // events made durable
  uint64_t written_to_inbox = 0;    // ... of which into an inbox file
  uint64_t queued = 0;              // events waiting for the writer now
};

class ZENML_ANALYTICS_EXPORT Client {
 public:
  // Decides consent; touches no file. Never fails: a config dir that cannot
  // be resolved makes every Track() return that error.
  Client();
  explicit Client(const ClientOptions& options);

  // Flushes (at most flush_on_exit_timeout), writes what is left to the
  // inbox, stops the writer; may start an upload (auto_upload).
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // A moved-from Client is empty: Track() and Flush() return
  // FailedPrecondition, enabled() is false.
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;

  // Records `event` with `properties` (an object, or null for none).
  //   OK                 queued (synchronous: durable), or consent is
  //                      withheld and nothing happened;
  //   InvalidArgument    invalid event (empty name, bad UTF-8, too large);
  //   ResourceExhausted  the queue is full: dropped and counted;
  //   the config dir's error if it cannot be resolved or read.
  // `message_id`, if given, receives the accepted event's messageId.
  Status Track(std::string_view event, const Value& properties = {},
               std::string* message_id = nullptr);
  Status Track(Event event, const Value& properties = {},
               std::string* message_id = nullptr);

  // Waits until every event accepted before the call is durable, at most
  // `timeout`: OK, or DeadlineExceeded naming what is still pending.
  Status Flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Whether events are recorded at all (consent given and a config dir).
  bool enabled() const;
  // The consent decision made at construction.
  Consent consent() const;
  // The config dir in use (empty if it could not be resolved).
  std::string config_dir() const;
  ClientStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The library's version, e.g. "0.1.0".
ZENML_ANALYTICS_EXPORT std::string_view LibraryVersion();

}  // namespace zenml::analytics

#endif  // ZENML_ANALYTICS_CLIENT_H_
