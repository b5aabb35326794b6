#include "tools/zenml-spool-dump/spool_dump.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

// CLI11 2.1's CLI::detail::split trips g++ 12's -Wnull-dereference once
// inlined at -O2: a false positive inside the header, not in this file.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/purge_request.h"
#include "client/status_facts.h"
#include "core/config_dir.h"
#include "core/consent.h"
#include "core/duration.h"
#include "core/exit_code.h"
#include "core/json_writer.h"
#include "core/timestamp.h"
#include "spool/reader.h"
#include "spool/spool.h"
#include "tools/common/command_line.h"
#include "tools/zenml-spool-dump/message_fields.h"
#include "uploader/file_transport.h"
#include "uploader/ingest_consent.h"

#ifndef ZENML_ANALYTICS_VERSION
#define ZENML_ANALYTICS_VERSION "0.0.0"
#endif

namespace zenml::tools {
namespace {

namespace fs = std::filesystem;
using core::Result;
using core::Status;
using core::WallTime;

constexpr std::string_view kTool = "zenml-spool-dump";
// One read takes at most this much. Between reads the database stays open
// (spool::Reader) for kHoldSlice at most, then is closed for a moment, so a
// tracker waiting for the one-process lock gets its turn well inside its
// lock_wait, and a 1,000,000-event dump opens LevelDB a few dozen times
// instead of once per chunk (reopening per 1,000-event chunk cost 1,001
// opens, each listing the directory and reading the MANIFEST: ~5 s of a 1M
// dump).
constexpr size_t kChunkBytes = 1u << 20;
constexpr size_t kChunkCount = 1000;
constexpr std::chrono::milliseconds kHoldSlice{200};
// Output is gathered into blocks of this size and written at once.
constexpr size_t kOutputBlock = 1u << 20;

struct Options {
  std::optional<std::string> config_dir;
  std::string format = "table";
  bool stats = false;
  bool dead_letter = false;
  std::optional<std::string> export_path;
  uint64_t limit = 0;  // 0: no limit
  std::optional<std::string> since;
  std::vector<std::string> events;
  std::optional<std::string> now;
};

using Fields = MessageFields;

Fields ParseFields(std::string_view json) {
  Fields f;
  ReadMessageFields(json, &f);
  return f;
}

enum class Align { kLeft, kRight };

// Appends `text` padded with spaces to `width` columns, one column per UTF-8
// code point.
void AppendPadded(std::string& out, std::string_view text, size_t width,
                  Align align) {
  size_t columns = 0;
  for (char c : text) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  const size_t pad = columns < width ? width - columns : 0;
  if (align == Align::kRight) out.append(pad, ' ');
  out.append(text);
  if (align == Align::kLeft) out.append(pad, ' ');
}

class Dumper {
 public:
  Dumper(const Options& options, std::ostream& out, std::ostream& err,
         const core::Environment& env)
      : options_(options), out_(out), err_(err), env_(env) {}

  int Run();

 private:
  // Prints "zenml-spool-dump: <what>" and returns the exit code for `s`.
  int Fail(const Status& s) {
    err_ << kTool << ": " << s.message() << "\n";
    return core::ExitCodeFor(s);
  }
  int Usage(std::string_view what) { return UsageError(kTool, what, err_); }

  bool SpoolExists() const { return fs::exists(analytics_dir_ / "spool"); }
  spool::Spool& GetSpool() {
    if (!spool_) {
      spool::SpoolOptions o;
      o.dir = analytics_dir_;
      // No bounds: reads never apply them, and the stored ones stay.
      // --export reads with Peek, which ingests the inbox (the bundle holds
      // those events too): never once the user has opted out.
      ingest_consent_ =
          std::make_unique<uploader::IngestConsent>(config_dir_, env_);
      spool_ =
          std::make_unique<spool::Spool>(ingest_consent_->Guard(std::move(o)));
      // An opt-out's pending purge goes first: never show what the user
      // asked to delete (client/purge_request.h).
      (void)client::HonourPurgeRequest(*spool_, analytics_dir_);
    }
    return *spool_;
  }

  // Calls `visit` for every pending entry, in order, a chunk at a time,
  // holding the spool for slices of kHoldSlice, then for the events waiting
  // in inbox files (seq 0: they get theirs when a writer ingests them, after
  // everything in the database). `visit` returns false to stop. The views
  // point into LevelDB's buffers (Spool::ScanEach): nothing is copied but
  // what `visit` writes out.
  template <typename Visit>
  Status ForEachEntry(Visit&& visit) {
    if (!SpoolExists()) return Status::OK();
    spool::Spool& spool = GetSpool();
    {
      // Scan: a dump changes nothing on disk. The hold lasts kHoldSlice at
      // most (not a chunk: see ReaderPolicy::yield).
      spool::Reader reader(
          spool, spool::ReaderPolicy{
                     .ingest = false, .yield = false, .max_hold = kHoldSlice});
      bool stopped = false;
      for (;;) {
        if (Status held = reader.Begin(); !held.ok()) return held;
        auto visited = reader.Visit(kChunkBytes, kChunkCount,
                                    [&](const spool::EntryView& entry) {
                                      stopped = !visit(entry);
                                      return !stopped;
                                    });
        reader.End();
        if (!visited.ok()) return visited.status();
        if (stopped) return Status::OK();
        if (*visited == 0) break;
      }
    }
    auto inbox = spool.ScanInbox();
    if (!inbox.ok()) return inbox.status();
    for (const auto& entry : *inbox) {
      if (!visit(spool::EntryView{entry.key, entry.seq, entry.json})) break;
    }
    return Status::OK();
  }

  // Appends to the output block; writes it out once it is kOutputBlock.
  void Emit(std::string_view text) {
    block_.append(text);
    if (block_.size() >= kOutputBlock) FlushOutput();
  }
  void FlushOutput() {
    out_.write(block_.data(), static_cast<std::streamsize>(block_.size()));
    block_.clear();
  }

  Result<spool::SpoolStats> Stats() {
    if (!SpoolExists()) return spool::SpoolStats{};
    return GetSpool().Stats();
  }

  bool Selected(const Fields& f) const {
    if (!events_.empty() && !events_.contains(f.event)) return false;
    if (since_ && (!f.time || *f.time < *since_)) return false;
    return true;
  }

  int DumpEvents();
  int DumpDeadLetters();
  int DumpStats();
  int Export();

  const Options& options_;
  std::ostream& out_;
  std::ostream& err_;
  const core::Environment& env_;
  fs::path config_dir_;
  fs::path analytics_dir_;
  WallTime now_;
  std::optional<WallTime> since_;
  std::set<std::string, std::less<>> events_;
  // Before spool_, which asks it (uploader/ingest_consent.h).
  std::unique_ptr<uploader::IngestConsent> ingest_consent_;
  std::unique_ptr<spool::Spool> spool_;
  std::string block_;  // output not yet written (Emit)
};

int Dumper::Run() {
  if (options_.config_dir) {
    config_dir_ = *options_.config_dir;
  } else {
    auto dir = core::ResolveConfigDir(env_);
    if (!dir.ok()) return Fail(dir.status());
    config_dir_ = *dir;
  }
  analytics_dir_ = core::AnalyticsDir(config_dir_);

  now_ = std::chrono::system_clock::now();
  if (options_.now) {
    auto t = core::ParseTimestamp(*options_.now);
    if (!t.ok()) return Usage(fmt::format("--now: {}", t.status().message()));
    now_ = *t;
  }
  if (options_.since) {
    if (auto d = core::ParseDuration(*options_.since)) {
      since_ = now_ - *d;
    } else if (auto t = core::ParseTimestamp(*options_.since); t.ok()) {
      since_ = *t;
    } else {
      return Usage(fmt::format(
          "--since {}: not a duration (30m, 2h, 7d) or an ISO-8601 UTC time",
          *options_.since));
    }
  }
  events_.insert(options_.events.begin(), options_.events.end());

  if (options_.export_path) return Export();
  if (options_.stats) return DumpStats();
  if (options_.dead_letter) return DumpDeadLetters();
  return DumpEvents();
}

int Dumper::DumpEvents() {
  const bool json = options_.format == "json";
  uint64_t shown = 0;
  uint64_t shown_bytes = 0;
  std::string line;
  Fields f;  // reused: its strings keep their buffers from row to row
  if (!json) {
    out_ << fmt::format("{:>8}  {:<24}  {:<28}  {:>6}  {:>5}\n", "SEQ", "TIME",
                        "EVENT", "BYTES", "AGE");
  }
  Status s = ForEachEntry([&](const spool::EntryView& entry) {
    if (options_.limit != 0 && shown >= options_.limit) return false;
    // Parsing is needed only for filters and the table; --json alone copies.
    const bool need_fields = !json || since_ || !events_.empty();
    if (need_fields) {
      ReadMessageFields(entry.json, &f);
      if (!Selected(f)) return true;
    }
    ++shown;
    shown_bytes += entry.json.size();
    if (json) {
      Emit(entry.json);
      Emit("\n");
    } else {
      std::string age =
          f.time ? core::FormatDuration(
                       std::chrono::duration_cast<std::chrono::seconds>(
                           now_ - *f.time))
                 : "?";
      // The header's columns, padded by hand: fmt's width computation
      // (display width of every code point) was a sixth of a table dump.
      line.clear();
      AppendPadded(line, entry.seq == 0 ? "inbox" : std::to_string(entry.seq),
                   8, Align::kRight);
      line += "  ";
      AppendPadded(line, f.timestamp.empty() ? "?" : f.timestamp, 24,
                   Align::kLeft);
      line += "  ";
      AppendPadded(line, f.event.empty() ? "?" : f.event, 28, Align::kLeft);
      line += "  ";
      AppendPadded(line, std::to_string(entry.json.size()), 6, Align::kRight);
      line += "  ";
      AppendPadded(line, age, 5, Align::kRight);
      line += '\n';
      Emit(line);
    }
    return true;
  });
  FlushOutput();
  out_.flush();
  if (!s.ok()) return Fail(s);
  if (!json) {
    auto stats = Stats();
    if (!stats.ok()) return Fail(stats.status());
    out_ << fmt::format(
        "total: {} event{}, {} bytes shown; {} pending, {} bytes in the "
        "spool\n",
        shown, shown == 1 ? "" : "s", shown_bytes,
        stats->count + stats->inbox_events, stats->bytes);
  }
  return core::kExitOk;
}

int Dumper::DumpDeadLetters() {
  const bool json = options_.format == "json";
  if (!json) {
    out_ << fmt::format("{:>8}  {:<24}  {:>6}  {:<28}  {}\n", "SEQ", "AT",
                        "STATUS", "EVENT", "REASON");
  }
  uint64_t shown = 0;
  if (SpoolExists()) {
    uint64_t after = 0;
    for (bool more = true; more;) {
      auto chunk = GetSpool().PeekDeadLetters(after, kChunkCount);
      if (!chunk.ok()) return Fail(chunk.status());
      if (chunk->empty()) break;
      after = chunk->back().seq;
      for (const auto& d : *chunk) {
        if (options_.limit != 0 && shown >= options_.limit) {
          more = false;
          break;
        }
        Fields f = ParseFields(d.message);
        if (!Selected(f)) continue;
        ++shown;
        if (json) {
          out_ << fmt::format(
              "{{\"seq\":{},\"status\":{},\"reason\":{},\"at\":\"{}\","
              "\"message\":{}}}\n",
              d.seq, d.status, core::JsonString(d.reason),
              core::FormatTimestamp(d.at), d.message);
        } else {
          out_ << fmt::format("{:>8}  {:<24}  {:>6}  {:<28}  {}\n", d.seq,
                              core::FormatTimestamp(d.at), d.status,
                              f.event.empty() ? "?" : f.event, d.reason);
        }
      }
    }
  }
  if (!json) {
    out_ << fmt::format("total: {} dead letter{}\n", shown,
                        shown == 1 ? "" : "s");
  }
  return core::kExitOk;
}

int Dumper::DumpStats() {
  auto stats_or = Stats();
  if (!stats_or.ok()) return Fail(stats_or.status());
  const spool::SpoolStats& stats = *stats_or;
  // Oldest and newest by event time: one streamed pass (the metadata keeps
  // counts, not times).
  std::optional<WallTime> oldest, newest;
  Status s = ForEachEntry([&](const spool::EntryView& entry) {
    Fields f = ParseFields(entry.json);
    if (f.time) {
      if (!oldest || *f.time < *oldest) oldest = f.time;
      if (!newest || *f.time > *newest) newest = f.time;
    }
    return true;
  });
  if (!s.ok()) return Fail(s);
  core::Consent consent = core::DecideConsent(config_dir_, env_);

  static constexpr std::string_view kReasons[] = {"max_events", "max_bytes",
                                                  "max_age",    "corruption",
                                                  "queue_full", "disk_full"};
  auto dropped = [&](std::string_view reason) -> uint64_t {
    auto it = stats.dropped.find(std::string(reason));
    return it == stats.dropped.end() ? 0 : it->second;
  };
  auto time_or = [](const std::optional<WallTime>& t, std::string_view none) {
    return t ? core::FormatTimestamp(*t) : std::string(none);
  };

  if (options_.format == "json") {
    // The names are shared with `zenml-analytics status --json`
    // (client/status_facts.h,
    // docs/schemas/zenml-spool-dump-stats.schema.json).
    auto opt_time = [](const std::optional<WallTime>& t) {
      return t ? core::Value(core::FormatTimestamp(*t)) : core::Value();
    };
    core::Value out = core::Value::Object{};
    out.Set("schema", client::kStatusJsonSchema);
    out.Set("spool_dir", analytics_dir_.string());
    client::AppendSpoolFacts(stats, out);
    out.Set("oldest", opt_time(oldest));
    out.Set("newest", opt_time(newest));
    out.Set("next_seq", stats.next_seq);
    out.Set("consent", client::ConsentValue(consent));
    auto text = core::ToJson(out);
    if (!text.ok()) return Fail(text.status());
    out_ << *text << "\n";
    return core::kExitOk;
  }

  auto row = [&](std::string_view name, std::string_view value) {
    out_ << fmt::format("{:<14}{}\n",
                        name.empty() ? std::string() : fmt::format("{}:", name),
                        value);
  };
  auto with_age = [&](const std::optional<WallTime>& t) {
    if (!t) return std::string("-");
    return fmt::format(
        "{} ({} ago)", core::FormatTimestamp(*t),
        core::FormatDuration(
            std::chrono::duration_cast<std::chrono::seconds>(now_ - *t)));
  };
  row("spool", analytics_dir_.string());
  row("pending",
      stats.inbox_events == 0
          ? fmt::format("{} events, {} bytes", stats.count, stats.bytes)
          : fmt::format("{} events ({} of them in inbox files), {} bytes in "
                        "the database",
                        stats.count + stats.inbox_events, stats.inbox_events,
                        stats.bytes));
  row("oldest", with_age(oldest));
  row("newest", with_age(newest));
  row("next seq", fmt::format("{}", stats.next_seq));
  auto dead_dropped = [&](std::string_view reason) -> uint64_t {
    auto it = stats.dead_letters_dropped.find(std::string(reason));
    return it == stats.dead_letters_dropped.end() ? 0 : it->second;
  };
  row("dead letters",
      fmt::format("{} ({} bytes; dropped by their bounds: max_events {}, "
                  "max_bytes {}, max_age {})",
                  stats.dead_letters, stats.dead_letter_bytes,
                  dead_dropped("max_events"), dead_dropped("max_bytes"),
                  dead_dropped("max_age")));
  row("write errors", fmt::format("{}", stats.write_errors));
  std::string drops;
  for (auto reason : kReasons) {
    if (!drops.empty()) drops += ", ";
    drops += fmt::format("{} {}", reason, dropped(reason));
  }
  row("dropped", drops);
  row("inbox files", fmt::format("{}", stats.inbox_files));
  if (stats.last_upload) {
    const auto& u = *stats.last_upload;
    row("last upload",
        fmt::format("{} {}: sent {} in {} request{}, {} dead-lettered, {} "
                    "remaining",
                    core::FormatTimestamp(u.at), u.outcome, u.sent, u.requests,
                    u.requests == 1 ? "" : "s", u.dead_lettered, u.remaining));
    if (!u.detail.empty()) row("", u.detail);
  } else {
    row("last upload", "never");
  }
  row("not before", time_or(stats.not_before, "-"));
  row("consent",
      fmt::format("{} (decided by {}: {})",
                  consent.allowed ? "opted in" : "opted out",
                  core::ConsentSourceName(consent.source), consent.detail));
  return core::kExitOk;
}

int Dumper::Export() {
  if (!SpoolExists()) {
    // An empty bundle is still a valid one; but never create a spool here.
    auto writer = uploader::BundleWriter::Create(*options_.export_path, now_,
                                                 "zenml-spool-dump --export");
    if (!writer.ok()) return Fail(writer.status());
    auto summary = (*writer)->Commit();
    if (!summary.ok()) return Fail(summary.status());
    err_ << kTool << ": wrote 0 events in 0 batches to "
         << *options_.export_path << "\n";
    return core::kExitOk;
  }
  uploader::ToFileOptions o;
  o.drain = false;
  o.origin = "zenml-spool-dump --export";
  // The header's "created" is the dump's notion of now (--now included).
  struct FixedClock final : core::Clock {
    explicit FixedClock(WallTime t) : t_(t) {}
    WallTime Now() const override { return t_; }
    core::MonoTime Monotonic() const override {
      return std::chrono::steady_clock::now();
    }
    void SleepFor(std::chrono::nanoseconds) const override {}
    WallTime t_;
  } clock(now_);
  o.clock = &clock;
  auto result =
      uploader::WriteSpoolToBundle(GetSpool(), *options_.export_path, o);
  if (!result.ok()) return Fail(result.status());
  err_ << fmt::format("{}: wrote {} events in {} batches to {}\n", kTool,
                      result->summary.messages, result->summary.batches,
                      *options_.export_path);
  return core::kExitOk;
}

}  // namespace

int SpoolDumpMain(int argc, const char* const* argv, std::ostream& out,
                  std::ostream& err, const core::Environment& env) {
  Options options;
  bool json = false;
  bool version = false;
  CLI::App app(
      "Shows the events spooled for upload, exactly as they would be sent, "
      "without changing them.",
      std::string(kTool));
  app.add_option("--config-dir", options.config_dir,
                 "ZenML config dir (default: $ZENML_CONFIG_PATH, "
                 "$XDG_CONFIG_HOME/zenml, ~/.config/zenml)");
  auto* format =
      app.add_option("--format", options.format,
                     "table (default) or json: one line per message, "
                     "byte for byte what the uploader sends")
          ->check(CLI::IsMember({"table", "json"}));
  app.add_flag("--json", json, "the same as --format json")->excludes(format);
  auto* stats = app.add_flag("--stats", options.stats,
                             "counts, bytes, oldest/newest, drops, dead "
                             "letters, last upload, consent");
  auto* dead = app.add_flag("--dead-letter", options.dead_letter,
                            "the dead letters with status and reason");
  auto* exp = app.add_option("--export", options.export_path,
                             "write every pending event to a new bundle file "
                             "(docs/bundle-format.md) without draining");
  auto* limit = app.add_option("--limit", options.limit,
                               "show at most N events (0: all)");
  auto* since = app.add_option(
      "--since", options.since,
      "only events at or after TIME: a duration back from now (30m, 2h, 7d) "
      "or an ISO-8601 UTC time");
  auto* event = app.add_option("--event", options.events,
                               "only events with this name (repeatable)");
  app.add_option("--now", options.now,
                 "take this ISO-8601 UTC time as now, for ages and --since "
                 "(reproducible output)");
  app.add_flag("--version", version, "print the version and exit");
  app.footer(
      "Exit status: 0 done (also no spool yet), 64 usage, 74 spool or file "
      "I/O error,\n75 spool busy (try again), 78 no config dir or the export "
      "file exists.\nSee man zenml-spool-dump (docs/zenml-spool-dump.md in the "
      "sources).");
  stats->excludes(dead)
      ->excludes(exp)
      ->excludes(limit)
      ->excludes(since)
      ->excludes(event);
  dead->excludes(exp);
  exp->excludes(limit)->excludes(since)->excludes(event)->excludes(format);

  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (auto exit_code = ParseCommandLine(app, args, kTool, out, err)) {
    return *exit_code;
  }
  if (version) {
    out << kTool << " " << ZENML_ANALYTICS_VERSION << "\n";
    return core::kExitOk;
  }
  if (json) options.format = "json";
  if (options.export_path && json) {
    return UsageError(kTool, "--export writes a bundle; --json does not apply",
                      err);
  }
  Dumper dumper(options, out, err, env);
  return dumper.Run();
}

int SpoolDumpMain(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  return SpoolDumpMain(argc, argv, std::cout, std::cerr,
                       core::ProcessEnvironment());
}

}  // namespace zenml::tools
