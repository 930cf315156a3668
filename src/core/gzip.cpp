#include "core/gzip.h"

#include <zlib.h>

#include <algorithm>

namespace elk {

std::string gzip(std::string_view data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

Result<std::string> gunzip(std::string_view data, std::size_t max_bytes) {
  if (data.size() < 18 || static_cast<unsigned char>(data[0]) != 0x1f || static_cast<unsigned char>(data[1]) != 0x8b)
    return fail("not gzip data (" + std::to_string(data.size()) + " bytes without the gzip header)");
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return fail("cannot start zlib's inflate");
  struct End {
    z_stream& z;
    ~End() { inflateEnd(&z); }
  } end{z};
  std::string out;
  // The size the trailer says (ISIZE: the last member's, modulo 2^32; a hint, never trusted past the bound),
  // one more byte so that the end is seen without growing; grown as needed up to the bound.
  const auto* tail = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
  const std::size_t said =
      std::size_t{tail[0]} | std::size_t{tail[1]} << 8 | std::size_t{tail[2]} << 16 | std::size_t{tail[3]} << 24;
  out.resize(std::min(max_bytes, std::max<std::size_t>(4096, said + 1)));
  std::size_t produced = 0;
  const auto* in = reinterpret_cast<const Bytef*>(data.data());
  std::size_t left = data.size();
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= max_bytes) return fail("gzip data inflates past " + std::to_string(max_bytes) + " bytes");
      out.resize(std::min(max_bytes, out.size() * 2));
    }
    z.next_in = const_cast<Bytef*>(in);
    z.avail_in = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - produced, 1u << 30));
    const uInt avail_in = z.avail_in, avail_out = z.avail_out;
    const int rc = inflate(&z, Z_NO_FLUSH);
    in += avail_in - z.avail_in;
    left -= avail_in - z.avail_in;
    produced += avail_out - z.avail_out;
    if (rc == Z_STREAM_END) {
      if (left == 0) break;
      // Another member follows (gzip allows several, one after the other).
      if (left < 2 || in[0] != 0x1f || in[1] != 0x8b)
        return fail("corrupt gzip data: " + std::to_string(left) + " bytes of something else after the end");
      inflateReset(&z);
      continue;
    }
    if (rc == Z_BUF_ERROR && left == 0) return fail("gzip data cut short (no end of stream)");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return fail(std::string("corrupt gzip data: ") + (z.msg != nullptr ? z.msg : "zlib error"));
  }
  out.resize(produced);
  return out;
}

}  // namespace elk
