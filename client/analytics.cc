// The public API (include/zenml/analytics/) over the internal layers: each
// call converts its arguments to the core types, calls zenml::client::Client
// or core, and converts the answer back. The public types are the internal
// ones' C++17, fmt-free twins, so the conversions are field by field; the
// static_asserts below keep the enums in step.

#include <chrono>
#include <filesystem>
#include <memory>
#include <utility>

#include "client/client.h"
#include "core/catalogue.h"
#include "core/config_dir.h"
#include "core/consent.h"
#include "core/context.h"
#include "core/environment.h"
#include "core/status.h"
#include "core/value.h"
#include "zenml/analytics/client.h"
#include "zenml/analytics/consent.h"
#include "zenml/analytics/events.h"
#include "zenml/analytics/result.h"
#include "zenml/analytics/status.h"
#include "zenml/analytics/value.h"

namespace zenml::analytics {
namespace {

#define ZENML_SAME_ENUM(pub, internal, name) \
  static_assert(static_cast<int>(pub::name) == static_cast<int>(internal::name))
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kOk);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kInvalidArgument);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kNotFound);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kCorruption);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kIoError);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kBusy);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kPermissionDenied);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kUnavailable);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kResourceExhausted);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kDeadlineExceeded);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kFailedPrecondition);
ZENML_SAME_ENUM(Status::Code, core::Status::Code, kInternal);
ZENML_SAME_ENUM(ConsentSource, core::ConsentSource, kEnvOptIn);
ZENML_SAME_ENUM(ConsentSource, core::ConsentSource, kDoNotTrack);
ZENML_SAME_ENUM(ConsentSource, core::ConsentSource, kConfigFile);
ZENML_SAME_ENUM(ConsentSource, core::ConsentSource, kDefault);
ZENML_SAME_ENUM(Event, core::Event, kDatasourcesListed);
ZENML_SAME_ENUM(Event, core::Event, kZenmlInitialized);
ZENML_SAME_ENUM(Value::Type, core::Value::Type, kNull);
ZENML_SAME_ENUM(Value::Type, core::Value::Type, kObject);
#undef ZENML_SAME_ENUM
static_assert(kAllEvents.size() == 12);

Status FromCore(const core::Status& s) {
  if (s.ok()) return Status();
  return Status(static_cast<Status::Code>(s.code()), s.message());
}

core::Status ToCore(const Status& s) {
  if (s.ok()) return core::Status::OK();
  return core::Status(static_cast<core::Status::Code>(s.code()), s.message());
}

Consent FromCore(const core::Consent& c) {
  return Consent{c.allowed, static_cast<ConsentSource>(c.source), c.detail};
}

core::Value ToCore(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return core::Value();
    case Value::Type::kBool:
      return core::Value(v.as_bool());
    case Value::Type::kInt:
      return core::Value(v.as_int());
    case Value::Type::kDouble:
      return core::Value(v.as_double());
    case Value::Type::kString:
      return core::Value(v.as_string());
    case Value::Type::kArray: {
      core::Value::Array out;
      out.reserve(v.as_array().size());
      for (const Value& item : v.as_array()) out.push_back(ToCore(item));
      return core::Value(std::move(out));
    }
    case Value::Type::kObject: {
      core::Value::Object out;
      out.reserve(v.as_object().size());
      for (const auto& [key, item] : v.as_object()) {
        out.emplace_back(key, ToCore(item));
      }
      return core::Value(std::move(out));
    }
  }
  return core::Value();
}

core::Result<std::filesystem::path> ConfigDir(const std::string& config_dir) {
  if (!config_dir.empty()) return std::filesystem::path(config_dir);
  return core::ResolveConfigDir(core::ProcessEnvironment());
}

Status Empty() {
  return Status(Status::Code::kFailedPrecondition,
                "this zenml::analytics::Client was moved from");
}

}  // namespace

std::string Status::ToString() const { return ToCore(*this).ToString(); }

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Value::Set(std::string key, Value value) {
  if (is_null()) data_ = Object{};
  if (!is_object()) return;
  for (auto& [k, v] : as_object()) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  as_object().emplace_back(std::move(key), std::move(value));
}

std::string_view EventName(Event event) {
  return core::EventName(static_cast<core::Event>(event));
}

std::optional<Event> EventFromName(std::string_view name) {
  auto e = core::EventFromName(name);
  if (!e) return std::nullopt;
  return static_cast<Event>(*e);
}

std::string_view ConsentSourceName(ConsentSource source) {
  return core::ConsentSourceName(static_cast<core::ConsentSource>(source));
}

Result<Consent> QueryConsent(const std::string& config_dir) {
  auto dir = ConfigDir(config_dir);
  if (!dir.ok()) return FromCore(dir.status());
  return FromCore(core::DecideConsent(*dir, core::ProcessEnvironment()));
}

Status SetOptIn(bool opt_in, const std::string& config_dir) {
  auto dir = ConfigDir(config_dir);
  if (!dir.ok()) return FromCore(dir.status());
  return FromCore(core::SetOptIn(*dir, opt_in));
}

std::string_view LibraryVersion() { return core::LibraryVersion(); }

class Client::Impl {
 public:
  explicit Impl(client::ClientOptions options) : client(std::move(options)) {}
  client::Client client;
};

namespace {
client::ClientOptions ToCore(const ClientOptions& o) {
  client::ClientOptions out;
  out.config_dir = o.config_dir;
  out.zenml_version = o.zenml_version;
  out.queue_capacity = o.queue_capacity;
  out.flush_on_exit_timeout = o.flush_on_exit_timeout;
  out.synchronous = o.synchronous;
  out.auto_upload = o.auto_upload;
  return out;
}
}  // namespace

Client::Client() : Client(ClientOptions()) {}

Client::Client(const ClientOptions& options)
    : impl_(std::make_unique<Impl>(ToCore(options))) {}

Client::~Client() = default;
Client::Client(Client&& other) noexcept = default;
Client& Client::operator=(Client&& other) noexcept = default;

Status Client::Track(std::string_view event, const Value& properties,
                     std::string* message_id) {
  if (!impl_) return Empty();
  return FromCore(impl_->client.Track(event, ToCore(properties), message_id));
}

Status Client::Track(Event event, const Value& properties,
                     std::string* message_id) {
  return Track(EventName(event), properties, message_id);
}

Status Client::Flush(std::chrono::milliseconds timeout) {
  if (!impl_) return Empty();
  return FromCore(impl_->client.Flush(timeout));
}

bool Client::enabled() const { return impl_ && impl_->client.enabled(); }

Consent Client::consent() const {
  if (!impl_) return Consent{false, ConsentSource::kDefault, "moved from"};
  return FromCore(impl_->client.consent());
}

std::string Client::config_dir() const {
  if (!impl_) return {};
  return impl_->client.config_dir().string();
}

ClientStats Client::stats() const {
  if (!impl_) return {};
  const client::ClientStats s = impl_->client.stats();
  return ClientStats{s.accepted,
                     s.dropped_queue_full,
                     s.rejected_invalid,
                     s.write_errors,
                     s.written,
                     s.written_to_inbox,
                     s.queued};
}

}  // namespace zenml::analytics
