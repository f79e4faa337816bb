// Shared by the checkpoint fuzz harness and the regression test: rewrites a
// checkpoint's size field and checksum so that a mutated file reaches the
// body parser instead of stopping at the checksum.
#pragma once

#include <cstdint>
#include <deepenergy/checkpoint.hpp>
#include <string>

namespace deepenergy::fuzz {

/// Header: magic (8), version (4), scalar tag (4), file size (8); checksum
/// (8) last. Returns false (and leaves buf alone) when buf is too short.
inline bool repair_checkpoint(std::string& buf) {
  if (buf.size() < 32) return false;
  const std::uint64_t n = buf.size();
  for (int i = 0; i < 8; ++i) buf[16 + std::size_t(i)] = char((n >> (8 * i)) & 0xff);
  const std::uint64_t h = checkpoint_detail::fnv1a64(buf.data(), buf.size() - 8);
  for (int i = 0; i < 8; ++i) buf[buf.size() - 8 + std::size_t(i)] = char((h >> (8 * i)) & 0xff);
  return true;
}

}  // namespace deepenergy::fuzz
