#include "core/yaml_limits.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/global_config.h"

namespace zenml::core {

namespace {

// Thrown by LimitChecker out of yaml-cpp's parser (which passes it through)
// to stop at the first event over a limit; caught in Parse.
struct LimitExceeded {
  std::string what;
};

// Counts yaml-cpp's parse events without building a tree: nodes with every
// alias counted as the size of the subtree it names (what building and
// walking the tree would cost), nesting depth, documents. An alias bomb is
// a few hundred bytes of text and ~10^9 nodes once expanded; here it stops
// at the first alias that takes the count past kConfigMaxNodes. yaml-cpp
// registers an anchor before its content, so `&a [*a]` is a cycle; an alias
// to a node that is still open is refused for that reason.
class LimitChecker final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {
    if (++documents_ > 1) {
      Fail("holds more than one YAML document");
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override {
    Leaf(anchor, 0);
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    Leaf(anchor, value.size());
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    const auto it = sizes_.find(anchor);
    if (it == sizes_.end()) Fail("has an alias to a node that contains it");
    Add(it->second.nodes, it->second.bytes);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&,
                       YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Size {
    size_t nodes = 0;
    size_t bytes = 0;  // of scalars
  };
  struct OpenNode {
    YAML::anchor_t anchor;
    Size first;  // the counts before this node was counted
  };

  [[noreturn]] static void Fail(std::string what) {
    throw LimitExceeded{std::move(what)};
  }
  void Add(size_t nodes, size_t bytes) {
    // Each term is <= its limit here, so no sum can overflow.
    total_.nodes += nodes;
    total_.bytes += bytes;
    if (total_.nodes > kConfigMaxNodes) {
      Fail(fmt::format("has more than {} YAML nodes (aliases expanded)",
                       kConfigMaxNodes));
    }
    // A rewrite writes every alias out in full: 30 KB aliased 1,000 times
    // fits in 64 KiB of text and would write 30 MB.
    if (total_.bytes > kConfigMaxExpandedBytes) {
      Fail(fmt::format("has more than {} bytes of values (aliases expanded)",
                       kConfigMaxExpandedBytes));
    }
  }
  void Leaf(YAML::anchor_t anchor, size_t bytes) {
    Add(1, bytes);
    if (anchor != YAML::NullAnchor) sizes_[anchor] = {1, bytes};
  }
  void Open(YAML::anchor_t anchor) {
    const Size first = total_;
    Add(1, 0);
    if (open_.size() >= kConfigMaxDepth) {
      Fail(fmt::format("nests deeper than {} levels", kConfigMaxDepth));
    }
    open_.push_back({anchor, first});
  }
  void Close() {
    if (open_.empty()) return;
    const OpenNode node = open_.back();
    open_.pop_back();
    if (node.anchor != YAML::NullAnchor) {
      sizes_[node.anchor] = {total_.nodes - node.first.nodes,
                             total_.bytes - node.first.bytes};
    }
  }

  int documents_ = 0;
  Size total_;
  std::vector<OpenNode> open_;
  std::unordered_map<YAML::anchor_t, Size> sizes_;  // closed anchors only
};

// An upper bound on flow nesting (`[` and `{` not yet closed), by a
// lexical pass. Needed before yaml-cpp sees the text: its scanner reads
// ahead to the end of an unclosed `[[[[...` before the parser emits the
// first event (measured: 256 KiB of `[` took 67 MB and 0.19 s). It skips
// quoted scalars, comments, tags, anchors and aliases, and brackets inside a
// plain scalar in block context (`url: x{y}`), where they are text; inside
// a flow collection brackets are always structure. Approximate where full
// YAML would need a parser (block scalars, multi-line plain scalars), but
// then it only counts a `{` or `[` that begins a line; yaml-cpp's events
// are checked for depth afterwards anyway.
size_t FlowDepthBound(std::string_view text) {
  auto blank = [&](size_t i) {
    return i >= text.size() || text[i] == ' ' || text[i] == '\t' ||
           text[i] == '\n' || text[i] == '\r';
  };
  size_t depth = 0;
  size_t max_depth = 0;
  char quote = 0;        // '\'' or '"' while inside a quoted scalar
  bool comment = false;  // from " #" to the end of the line
  bool token = false;    // inside a tag, anchor or alias (`!t`, `&a`, `*a`)
  bool plain = false;    // inside a plain scalar
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool line_end = c == '\n' || c == '\r';
    if (comment) {
      comment = !line_end;
      plain = plain && !line_end;
      continue;
    }
    if (quote == '"') {
      if (c == '\\') {
        ++i;  // the escaped character
      } else if (c == '"') {
        quote = 0;
      }
      continue;
    }
    if (quote == '\'') {
      if (c == '\'') quote = 0;  // '' inside reads as a close and a reopen
      continue;
    }
    const bool flow_indicator =
        c == '[' || c == '{' || c == ']' || c == '}' || c == ',';
    if (token) {
      if (!(blank(i) || (depth > 0 && flow_indicator))) continue;
      token = false;
    }
    if (line_end) {
      plain = false;
      continue;
    }
    if (c == '#' && (i == 0 || blank(i - 1))) {
      comment = true;
      continue;
    }
    if (c == '[' || c == '{') {
      if (depth == 0 && plain) continue;  // text of a block plain scalar
      max_depth = std::max(max_depth, ++depth);
      plain = false;
    } else if (c == ']' || c == '}') {
      if (depth == 0) continue;
      --depth;
      plain = false;
    } else if (c == ',' && depth > 0) {
      plain = false;
    } else if (plain) {
      if (c == ':' &&
          (blank(i + 1) || (depth > 0 && i + 1 < text.size() &&
                            (text[i + 1] == ',' || text[i + 1] == ']' ||
                             text[i + 1] == '}')))) {
        plain = false;  // the end of a key
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '!' || c == '&' || c == '*') {
      token = true;
    } else if ((c == '-' || c == '?' || c == ':') && blank(i + 1)) {
      // an indicator: what follows starts a node
    } else if (c != ' ' && c != '\t') {
      plain = true;
    }
  }
  return max_depth;
}

}  // namespace

// The offset of the first character PyYAML's reader refuses (ZenML could
// not read the file), or of a CR not followed by LF, or npos: the text must
// be UTF-8 of the printable
// characters YAML 1.1 allows (tab, LF, CR, U+0020-U+007E, U+0085,
// U+00A0-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF). yaml-cpp would take
// other bytes, and its emitter would then write them back changed (U+FFFD
// for a byte that is not UTF-8), so a rewrite could alter a key it does not
// own.
size_t FindUnacceptableInYaml(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    uint32_t cp = 0;
    size_t len = 0;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      len = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      len = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len]) return i;  // overlong
    const bool ok =
        cp == 0x09 || cp == 0x0a || cp == 0x0d || (cp >= 0x20 && cp <= 0x7e) ||
        cp == 0x85 || (cp >= 0xa0 && cp <= 0xd7ff) ||
        (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    if (!ok) return i;
    // A CR alone: PyYAML reads a line break, yaml-cpp sometimes a character
    // of the scalar, which its emitter then writes back raw, breaking the
    // file (found by fuzz_config_yaml). CRLF is fine.
    if (cp == 0x0d && (i + 1 >= n || p[i + 1] != '\n')) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Checks `text` against the limits (global_config.h) before any tree is
// built. Returns an empty string when within them, else what is wrong.
std::string CheckYamlLimits(const std::string& text) {
  if (text.size() > kConfigMaxBytes) {
    return fmt::format("is larger than {} bytes", kConfigMaxBytes);
  }
  if (const size_t at = FindUnacceptableInYaml(text); at != std::string::npos) {
    return fmt::format(
        "has a byte YAML does not allow at offset {} (it must be UTF-8 text "
        "without control characters or lone CRs)",
        at);
  }
  if (FlowDepthBound(text) > kConfigMaxDepth) {
    return fmt::format("nests deeper than {} levels", kConfigMaxDepth);
  }
  std::istringstream in(text);
  YAML::Parser parser(in);
  LimitChecker checker;
  try {
    while (parser.HandleNextDocument(checker)) {
    }
  } catch (const LimitExceeded& e) {
    return e.what;
  }
  // YAML syntax errors propagate to Parse, which reports them with the line.
  return std::string();
}

}  // namespace zenml::core
