// zenml_analytics._native: the Python binding (pybind11) of the C API.
//
// Why over the C API and not the C++ Client directly: the C API's client
// already handles what Python needs beyond the Client (fork, consent changes
// in the process, close under concurrent calls), in one place that C
// callers share. Why its C++ side door (client/c_api_internal.h) for track:
// metadata goes from Python objects straight into a core::Value here, with
// no json.dumps in Python and no JSON parse in C++ (each would cost about
// as much as the whole track).
//
// Threads: track runs with the GIL held (it only validates, serializes and
// queues; the GIL also guards this module's state); flush and close release
// it. Nothing here raises into a track() caller.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/c_api_internal.h"
#include "core/value.h"
#include "include/zenml/analytics.h"

namespace py = pybind11;

namespace zenml::python {
namespace {

using core::Value;

// Python objects nest at most this deep in metadata (the encoder's limit is
// 64; stopping here also stops a list that contains itself).
constexpr int kMaxDepth = 64;

// Converts JSON-like Python data into a Value: None, bool, int, float, str,
// list/tuple, and dict with str keys (subclasses too: str and int enums
// become their values). False for anything else, for a str with lone
// surrogates and for nesting past kMaxDepth; any Python error is cleared.
bool ToValue(PyObject* o, int depth, Value* out) {
  if (depth > kMaxDepth) return false;
  if (o == Py_None) {
    *out = Value();
    return true;
  }
  if (PyBool_Check(o)) {
    *out = Value(o == Py_True);
    return true;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0) {
      if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
      }
      *out = Value(static_cast<int64_t>(v));
      return true;
    }
    double d = PyLong_AsDouble(o);  // as json.dumps would, roughly
    if (d == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    *out = Value(d);
    return true;
  }
  if (PyFloat_Check(o)) {
    *out = Value(PyFloat_AS_DOUBLE(o));  // NaN and inf: the encoder refuses
    return true;
  }
  if (PyUnicode_Check(o)) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == nullptr) {
      PyErr_Clear();  // lone surrogates
      return false;
    }
    *out = Value(std::string(s, static_cast<size_t>(n)));
    return true;
  }
  if (PyList_Check(o) || PyTuple_Check(o)) {
    PyObject* seq = o;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Value::Array array;
    array.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      Value item;
      // A list may change size under us only through our own code: no.
      if (!ToValue(PySequence_Fast_GET_ITEM(seq, i), depth + 1, &item)) {
        return false;
      }
      array.push_back(std::move(item));
    }
    *out = Value(std::move(array));
    return true;
  }
  if (PyDict_Check(o)) {
    Value::Object object;
    object.reserve(static_cast<size_t>(PyDict_Size(o)));
    PyObject* key = nullptr;
    PyObject* item = nullptr;
    Py_ssize_t pos = 0;
    while (PyDict_Next(o, &pos, &key, &item)) {
      if (!PyUnicode_Check(key)) return false;
      Py_ssize_t n = 0;
      const char* k = PyUnicode_AsUTF8AndSize(key, &n);
      if (k == nullptr) {
        PyErr_Clear();
        return false;
      }
      Value v;
      if (!ToValue(item, depth + 1, &v)) return false;
      object.emplace_back(std::string(k, static_cast<size_t>(n)), std::move(v));
    }
    *out = Value(std::move(object));
    return true;
  }
  return false;
}

// The body of every track(): False (never an exception) unless queued.
bool Track(zenml_analytics_client* c, py::handle event, py::handle metadata) {
  Py_ssize_t n = 0;
  const char* name = PyUnicode_Check(event.ptr())
                         ? PyUnicode_AsUTF8AndSize(event.ptr(), &n)
                         : nullptr;
  if (name == nullptr) {
    PyErr_Clear();
    client::capi::CountRejected(c);
    return false;
  }
  Value properties;
  if (!metadata.is_none() && (!PyDict_Check(metadata.ptr()) ||
                              !ToValue(metadata.ptr(), 0, &properties))) {
    client::capi::CountRejected(c);
    return false;
  }
  const std::string_view event_name(name, static_cast<size_t>(n));
  zenml_analytics_status status;
  if (client::capi::IsSynchronous(c)) {
    py::gil_scoped_release release;
    status = client::capi::TrackValue(c, event_name, properties);
  } else {
    status = client::capi::TrackValue(c, event_name, properties);
  }
  return status == ZENML_ANALYTICS_OK;
}

py::dict StatsDict(zenml_analytics_client* c) {
  zenml_analytics_stats s = ZENML_ANALYTICS_STATS_INIT;
  if (c != nullptr) (void)zenml_analytics_client_stats(c, &s);
  py::dict d;
  d["accepted"] = s.accepted;
  d["written"] = s.written;
  d["written_to_inbox"] = s.written_to_inbox;
  d["queued"] = s.queued;
  d["dropped_queue_full"] = s.dropped_queue_full;
  d["rejected_invalid"] = s.rejected_invalid;
  d["disabled"] = s.disabled;
  d["write_errors"] = s.write_errors;
  return d;
}

// Waits for `c` in slices, looking for signals in between, so Ctrl-C
// interrupts the wait (KeyboardInterrupt) while the events stay queued: the
// writer keeps going and close (atexit) saves whatever is left.
bool FlushInterruptibly(zenml_analytics_client* c, double timeout_s) {
  if (!(timeout_s >= 0)) timeout_s = 0;
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(std::min(timeout_s, 1e7)));
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const uint32_t slice =
        static_cast<uint32_t>(std::clamp<int64_t>(left.count(), 0, 100));
    zenml_analytics_status status;
    {
      py::gil_scoped_release release;
      status = zenml_analytics_flush(c, slice);
    }
    if (status == ZENML_ANALYTICS_OK) return true;
    if (status != ZENML_ANALYTICS_E_TIMEOUT || left.count() <= 100) {
      return false;
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

zenml_analytics_client* NewClient(const std::optional<std::string>& config_dir,
                                  const std::optional<std::string>& version,
                                  size_t queue_capacity, bool synchronous,
                                  double flush_on_exit_timeout,
                                  bool auto_upload) {
  zenml_analytics_options o;
  zenml_analytics_options_init(&o);
  if (config_dir) o.config_dir = config_dir->c_str();
  if (version) o.zenml_version = version->c_str();
  o.queue_capacity = queue_capacity;
  o.synchronous = synchronous ? 1 : 0;
  if (flush_on_exit_timeout > 0) {
    o.flush_on_exit_timeout_ms = static_cast<uint32_t>(
        std::min(flush_on_exit_timeout * 1000.0, 4.0e9) + 0.5);
  }
  o.auto_upload = auto_upload ? 1 : 0;
  zenml_analytics_client* c = nullptr;
  if (zenml_analytics_client_new(&o, &c) != ZENML_ANALYTICS_OK) {
    throw std::bad_alloc();  // its only failure with valid options
  }
  return c;
}

// Closes with the GIL released (close waits for the writer).
void CloseReleased(zenml_analytics_client* c) {
  py::gil_scoped_release release;
  (void)zenml_analytics_client_close(c);
}

// Every open Client object, so the interpreter's exit closes them. Guarded
// by the GIL.
std::set<zenml_analytics_client*>& LiveClients() {
  static auto* live = new std::set<zenml_analytics_client*>();
  return *live;
}

class PyClient {
 public:
  PyClient(std::optional<std::string> config_dir,
           std::optional<std::string> zenml_version, size_t queue_capacity,
           bool synchronous, double flush_on_exit_timeout, bool auto_upload)
      : c_(NewClient(config_dir, zenml_version, queue_capacity, synchronous,
                     flush_on_exit_timeout, auto_upload)) {
    LiveClients().insert(c_);
  }
  ~PyClient() {
    // Only the last reference is gone: nobody can be inside a call.
    LiveClients().erase(c_);
    py::gil_scoped_release release;
    zenml_analytics_client_free(c_);
  }
  PyClient(const PyClient&) = delete;
  PyClient& operator=(const PyClient&) = delete;

  bool TrackEvent(py::handle event, py::handle metadata) {
    try {
      return Track(c_, event, metadata);
    } catch (...) {
      PyErr_Clear();
      return false;
    }
  }
  bool Flush(double timeout) { return FlushInterruptibly(c_, timeout); }
  py::dict Stats() { return StatsDict(c_); }
  void Close() { CloseReleased(c_); }

 private:
  zenml_analytics_client* c_;
};

// The module-level clients of track(), one per zenml_version (None first).
// Guarded by the GIL. Never freed: a module's state lives as long as the
// process, and atexit closes them.
struct Defaults {
  zenml_analytics_client* unversioned = nullptr;
  std::vector<std::pair<std::string, zenml_analytics_client*>> versioned;
};
Defaults& GetDefaults() {
  static auto* defaults = new Defaults();
  return *defaults;
}

// The default client for `version` (None or str); null for another type.
zenml_analytics_client* DefaultClient(py::handle version) {
  Defaults& d = GetDefaults();
  if (version.is_none()) {
    if (d.unversioned == nullptr) {
      d.unversioned = NewClient({}, {}, 0, false, 0, true);
    }
    return d.unversioned;
  }
  if (!PyUnicode_Check(version.ptr())) return nullptr;
  Py_ssize_t n = 0;
  const char* v = PyUnicode_AsUTF8AndSize(version.ptr(), &n);
  if (v == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  const std::string_view wanted(v, static_cast<size_t>(n));
  for (auto& [name, c] : d.versioned) {
    if (name == wanted) return c;
  }
  d.versioned.emplace_back(
      std::string(wanted),
      NewClient({}, std::string(wanted), 0, false, 0, true));
  return d.versioned.back().second;
}

bool ModuleTrack(py::handle event, py::handle metadata,
                 py::handle zenml_version) {
  try {
    zenml_analytics_client* c = DefaultClient(zenml_version);
    if (c == nullptr) {
      // A zenml_version that is not a str: count it on the unversioned one.
      client::capi::CountRejected(DefaultClient(py::none()));
      return false;
    }
    return Track(c, event, metadata);
  } catch (...) {
    PyErr_Clear();
    return false;
  }
}

py::dict ModuleStats() {
  Defaults& d = GetDefaults();
  std::vector<zenml_analytics_client*> all;
  if (d.unversioned != nullptr) all.push_back(d.unversioned);
  for (auto& [name, c] : d.versioned) all.push_back(c);
  py::dict total = StatsDict(nullptr);
  for (zenml_analytics_client* c : all) {
    py::dict one = StatsDict(c);
    for (auto item : one) {
      total[item.first] =
          total[item.first].cast<uint64_t>() + item.second.cast<uint64_t>();
    }
  }
  return total;
}

bool ModuleFlush(double timeout) {
  Defaults& d = GetDefaults();
  bool ok = true;
  if (d.unversioned != nullptr) {
    ok = FlushInterruptibly(d.unversioned, timeout) && ok;
  }
  for (auto& [name, c] : d.versioned) {
    ok = FlushInterruptibly(c, timeout) && ok;
  }
  return ok;
}

// atexit (and a forked multiprocessing child's exit): closes every client,
// each waiting for its writer at most its flush_on_exit_timeout.
void CloseAll() {
  Defaults& d = GetDefaults();
  std::vector<zenml_analytics_client*> all(LiveClients().begin(),
                                           LiveClients().end());
  if (d.unversioned != nullptr) all.push_back(d.unversioned);
  for (auto& [name, c] : d.versioned) all.push_back(c);
  for (zenml_analytics_client* c : all) CloseReleased(c);
}

void Check(zenml_analytics_status status) {
  if (status == ZENML_ANALYTICS_OK) return;
  throw std::runtime_error(std::string(zenml_analytics_last_error()));
}

const char* DirOrNull(const std::optional<std::string>& dir) {
  return dir ? dir->c_str() : nullptr;
}

}  // namespace
}  // namespace zenml::python

PYBIND11_MODULE(_native, m) {
  using namespace zenml::python;
  m.doc() =
      "The native part of zenml_analytics (pybind11 over the C API "
      "zenml/analytics.h). Use the zenml_analytics package, not this.";

  // Signatures are written in the docstrings: pybind11 would show the C++
  // parameter types (handle) instead of the Python ones.
  py::options options;
  options.disable_function_signatures();

  py::register_exception<std::runtime_error>(m, "AnalyticsError",
                                             PyExc_RuntimeError);

  m.def(
      "track", &ModuleTrack, py::arg("event"), py::arg("metadata") = py::none(),
      py::kw_only(), py::arg("zenml_version") = py::none(),
      R"doc(track(event: str, metadata: Optional[Mapping[str, Any]] = None, *, zenml_version: Optional[str] = None) -> bool

Record one ZenML usage event; never raises, never waits for the disk.

event: an AnalyticsEvent (e.g. AnalyticsEvent.RUN_PIPELINE) or any str.
metadata: a dict of JSON-like values (None, bool, int, float, str, lists,
    tuples, dicts with str keys), or None for {}.
zenml_version: the caller's ZenML version, reported with the event
    (context.zenml.version); None: the library's build default.

Returns True when the event was queued for the spool (a background thread
makes it durable within milliseconds; flush() waits for it). Returns False,
and counts why in stats(), when analytics are opted out ("disabled"), the
input is invalid (other types, lone surrogates, a message over 32,000
bytes: "rejected_invalid") or the queue is full ("dropped_queue_full").
Thread-safe and fork-safe.)doc");

  // The floor of the benchmark: the same binding, signature and argument
  // passing as track(), and a call of an empty C function.
  m.def(
      "_noop",
      [](py::handle, py::handle, py::handle) {
        return zenml_analytics_noop() != 0;
      },
      py::arg("event"), py::arg("metadata") = py::none(), py::kw_only(),
      py::arg("zenml_version") = py::none(),
      "_noop(event, metadata=None, *, zenml_version=None) -> bool\n\n"
      "Does nothing (calls an empty C function); for benchmarks.");

  m.def("flush", &ModuleFlush, py::arg("timeout") = 5.0,
        "flush(timeout: float = 5.0) -> bool\n\n"
        "Wait until every event track() accepted so far is durable, at most "
        "`timeout` seconds; True if it is. Ctrl-C interrupts the wait, not "
        "the events.");
  m.def("stats", &ModuleStats,
        "stats() -> Dict[str, int]\n\n"
        "What track() did so far in this process: accepted, written, "
        "written_to_inbox, queued, dropped_queue_full, rejected_invalid, "
        "disabled, write_errors.");
  m.def("_close_all", &CloseAll,
        "Close every client (flush, then save the rest to an inbox file); "
        "run at interpreter exit.");
  m.def(
      "_opt_in",
      [](std::optional<std::string> dir) {
        Check(zenml_analytics_opt_in(DirOrNull(dir)));
      },
      py::arg("config_dir") = py::none());
  m.def(
      "_opt_out",
      [](std::optional<std::string> dir) {
        zenml_analytics_status s;
        {
          py::gil_scoped_release release;  // flushes clients, purges
          s = zenml_analytics_opt_out(DirOrNull(dir));
        }
        Check(s);
      },
      py::arg("config_dir") = py::none());
  m.def(
      "_status_json",
      [](std::optional<std::string> dir, std::optional<std::string> version) {
        char* json = nullptr;
        zenml_analytics_status s;
        {
          py::gil_scoped_release release;  // may open the spool
          s = zenml_analytics_status_json(
              DirOrNull(dir), version ? version->c_str() : nullptr, &json);
        }
        Check(s);
        std::string out(json);
        zenml_analytics_free(json);
        return out;
      },
      py::arg("config_dir") = py::none(),
      py::arg("zenml_version") = py::none());
  m.attr("LIBRARY_VERSION") = zenml_analytics_version();

  py::class_<PyClient>(m, "Client",
                       R"doc(A client of the spool with its own options.

Client(config_dir=None, zenml_version=None, *, queue_capacity=10000,
       synchronous=False, flush_on_exit_timeout=1.0, auto_upload=True)

config_dir: ZenML's config dir; None: $ZENML_CONFIG_PATH, else
    $XDG_CONFIG_HOME/zenml, else ~/.config/zenml.
zenml_version: reported with every event; None: the build default.
synchronous: track() returns only once the event is durable.
flush_on_exit_timeout: how long close() waits for the writer (seconds)
    before saving what is left to an inbox file.
auto_upload: close() may start zenml-upload when an upload is due.

A context manager: leaving the block closes it. Thread-safe; fork-safe.)doc")
      .def(py::init<std::optional<std::string>, std::optional<std::string>,
                    size_t, bool, double, bool>(),
           py::arg("config_dir") = py::none(),
           py::arg("zenml_version") = py::none(), py::kw_only(),
           py::arg("queue_capacity") = 10000, py::arg("synchronous") = false,
           py::arg("flush_on_exit_timeout") = 1.0,
           py::arg("auto_upload") = true)
      .def("track", &PyClient::TrackEvent, py::arg("event"),
           py::arg("metadata") = py::none(),
           "track(event: str, metadata: Optional[Mapping[str, Any]] = None) "
           "-> bool\n\n"
           "As zenml_analytics.track(), on this client (its zenml_version).")
      .def("flush", &PyClient::Flush, py::arg("timeout") = 5.0,
           "flush(timeout: float = 5.0) -> bool\n\n"
           "Wait until every event accepted so far is durable, at most "
           "`timeout` seconds; True if it is.")
      .def("stats", &PyClient::Stats,
           "stats() -> Dict[str, int]\n\nCounters, as zenml_analytics.stats().")
      .def("close", &PyClient::Close,
           "close() -> None\n\nStop accepting events; wait for the writer at "
           "most "
           "flush_on_exit_timeout, then save the rest to an inbox file. "
           "Idempotent.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyClient& self, py::handle, py::handle, py::handle) {
        self.Close();
        return false;
      });
}
