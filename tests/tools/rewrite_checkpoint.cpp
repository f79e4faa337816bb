// Test tool: rewrites a checkpoint as an older program would have written it,
// so the examples' tests can check that such files still load (the library's
// own tests do this for its format in test_checkpoint.cpp).
//
//   rewrite_checkpoint IN OUT [--version N] [--set KEY=V[,V...]]... [--erase KEY]...
//
// --version writes library format N (1 has no persistent chains, 1 and 2
// no energy average, 1 to 3 no loss terms' parameters: they are dropped;
// format 4 from an older file gets none); the description is kept as it is.
// --set replaces or adds an extra; --erase removes one. The file is parsed
// with the file checks of load_checkpoint (not the model checks), so a
// damaged input is refused.
#include <deepenergy/checkpoint.hpp>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace deepenergy;

struct Edits {
  std::uint32_t version = checkpoint_format_version;
  CheckpointExtras set;
  std::vector<std::string> erase;
};

// The writer below repeats save_checkpoint's layout for every version up to
// this one; a new version needs its fields here too.
static_assert(checkpoint_format_version == 4, "rewrite_checkpoint: add the new format's fields");

template <class S>
std::string rewrite(const std::string& in, const Edits& edits) {
  using checkpoint_detail::Writer;
  checkpoint_detail::Contents<S> c =
      checkpoint_detail::parse<S>(in, checkpoint_detail::read_file(in));
  for (const auto& key : edits.erase)
    if (c.info.extras.erase(key) == 0) throw Error(in + ": no extra \"" + key + "\" to erase");
  for (const auto& [key, values] : edits.set) c.info.extras[key] = values;
  // The layout of save_checkpoint (checkpoint.hpp), at the requested version.
  Writer w;
  w.bytes(checkpoint_magic, sizeof checkpoint_magic);
  w.u32(edits.version);
  w.u32(checkpoint_detail::scalar_tag<S>());
  w.u64(0);  // the file size, set by finish()
  w.str(c.info.description);
  for (std::size_t n = 0; n < 2; ++n) {
    w.str(checkpoint_detail::network_names[n]);
    w.u64(c.nets[n].size());
    for (const auto& p : c.nets[n]) {
      w.str(p.name);
      w.matrix(p.value);
      w.matrix(p.slot[0]);
      w.matrix(p.slot[1]);
      w.i64(p.updates);
    }
  }
  for (std::uint64_t word : c.rng.words) w.u64(word);
  w.u8(c.rng.has_spare ? 1 : 0);
  w.f64(c.rng.spare);
  w.i64(c.info.step);
  if (edits.version >= 2) w.matrix(c.chains);
  if (edits.version >= 3) {
    w.u64(c.average.size());
    for (const auto& a : c.average) w.matrix(a);
  }
  if (edits.version >= 4) {
    w.u64(c.terms.size());
    for (const auto& p : c.terms) {
      w.str(p.name);
      w.matrix(p.value);
      w.matrix(p.slot[0]);
      w.matrix(p.slot[1]);
      w.i64(p.updates);
    }
  }
  w.u64(c.info.extras.size());
  for (const auto& [key, values] : c.info.extras) {
    w.str(key);
    w.u64(values.size());
    for (double v : values) w.f64(v);
  }
  return w.finish();
}

std::vector<double> parse_values(const std::string& text, const std::string& arg) {
  std::vector<double> v;
  if (text.empty() || text.back() == ',') throw Error("--set " + arg + ": a value is missing");
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double x = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0')
      throw Error("--set " + arg + ": \"" + item + "\" is not a number");
    v.push_back(x);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3)
      throw Error("usage: rewrite_checkpoint IN OUT [--version N] [--set KEY=V,...] [--erase KEY]");
    const std::string in = argv[1], out = argv[2];
    Edits edits;
    for (int i = 3; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag != "--version" && flag != "--set" && flag != "--erase")
        throw Error("unknown option " + flag);
      if (i + 1 >= argc) throw Error(flag + " needs a value");
      const std::string value = argv[++i];
      if (flag == "--version") {
        char* end = nullptr;
        const long v = std::strtol(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || v < long(checkpoint_oldest_format_version) ||
            v > long(checkpoint_format_version))
          throw Error("--version " + value + ": this build writes versions " +
                      std::to_string(checkpoint_oldest_format_version) + " to " +
                      std::to_string(checkpoint_format_version));
        edits.version = std::uint32_t(v);
      } else if (flag == "--set") {
        const auto eq = value.find('=');
        if (eq == std::string::npos || eq == 0)
          throw Error("--set " + value + ": expected KEY=V[,V...]");
        edits.set[value.substr(0, eq)] = parse_values(value.substr(eq + 1), value);
      } else {
        edits.erase.push_back(value);
      }
    }
    // The scalar type is the header's second field (checkpoint.hpp); any
    // other tag is left to the float parser, which names it.
    const std::string head = checkpoint_detail::read_file(in).substr(0, 16);
    const bool is_double = head.size() == 16 && head[12] == 8 && head[13] == 0;
    write_file_atomically(out, is_double ? rewrite<double>(in, edits) : rewrite<float>(in, edits));
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
