// libFuzzer harness for the native parsing of untrusted bytes (native/frame.h): a peer's byte
// stream, with descriptors attached (SCM_RIGHTS), read through a real socketpair by the frame
// header decoder in both of the addon's modes (the blocking reads, FdWatcher's incremental ones).
// Oracles: the frames and the way the stream ends match a plain reference parse, every descriptor
// sent arrives once (close-on-exec) and none leaks. Input: byte 0 = descriptors to attach (bits
// 0-1), mode (bit 2), write chunks of 2^(bits 3-7 mod 13) bytes; the rest is the stream.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "frame.h"

namespace {

enum class End { kClean, kMidHeader, kMidBody, kNegative };

struct Outcome {
  std::vector<std::vector<uint8_t>> frames;
  End end = End::kClean;
  bool operator==(const Outcome& other) const { return frames == other.frames && end == other.end; }
};

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "frame_fuzzer: %s\n", what);
  abort();
}

// The specification, written as plainly as possible.
Outcome Reference(const uint8_t* data, size_t size) {
  Outcome out;
  size_t pos = 0;
  for (;;) {
    if (pos == size) return out;
    if (size - pos < 4) return out.end = End::kMidHeader, out;
    const int32_t short_length = static_cast<int32_t>((uint32_t{data[pos]} << 24) | (uint32_t{data[pos + 1]} << 16) | (uint32_t{data[pos + 2]} << 8) | data[pos + 3]);
    pos += 4;
    uint64_t length;
    if (short_length == -1) {
      if (size - pos < 8) return out.end = End::kMidHeader, out;
      length = mp::DecodeLong(data + pos);
      pos += 8;
    } else if (short_length < 0) {
      return out.end = End::kNegative, out;
    } else {
      length = static_cast<uint64_t>(short_length);
    }
    if (size - pos < length) return out.end = End::kMidBody, out;
    out.frames.emplace_back(data + pos, data + pos + length);
    pos += length;
  }
}

// A body buffer as the addon would allocate it, bounded: the stream cannot hold more than `limit`.
std::vector<uint8_t> Body(uint64_t length, size_t limit) { return std::vector<uint8_t>(static_cast<size_t>(std::min<uint64_t>(length, limit))); }

// As RecvFrame/ReadHeader/ReadBody: blocking exact reads.
Outcome ReadBlocking(int fd, size_t limit, std::vector<int>* fds) {
  Outcome out;
  for (;;) {
    mp::FrameHeader header;
    uint64_t length = 0;
    bool done = false;
    while (!done) {
      const size_t wanted = header.wanted();
      int64_t got = mp::ReadExact(fd, header.next(), wanted, header.in_long_part() ? nullptr : fds);
      if (got < 0) Fail("read error");
      if (got == 0 && !header.started()) return out;
      if (static_cast<size_t>(got) < wanted) return out.end = End::kMidHeader, out;
      switch (header.Add(static_cast<size_t>(got), &length)) {
        case mp::FrameHeader::Status::kDone: done = true; break;
        case mp::FrameHeader::Status::kNegative: return out.end = End::kNegative, out;
        case mp::FrameHeader::Status::kMore: break;
      }
    }
    if (length > limit) {  // the addon would allocate it and read until the peer closes
      std::vector<uint8_t> sink(limit + 1);
      if (static_cast<uint64_t>(mp::ReadExact(fd, sink.data(), sink.size())) != sink.size()) return out.end = End::kMidBody, out;
      Fail("more bytes than the stream holds");
    }
    std::vector<uint8_t> body = Body(length, limit);
    if (static_cast<uint64_t>(mp::ReadExact(fd, body.data(), body.size())) != length) return out.end = End::kMidBody, out;
    out.frames.push_back(std::move(body));
  }
}

// As FdWatcher::Step: the first read takes what is wanted, later ones only what FIONREAD reports.
Outcome ReadIncremental(int fd, size_t limit, std::vector<int>* fds) {
  Outcome out;
  mp::FrameHeader header;
  bool in_header = true;
  uint64_t length = 0;
  size_t body_got = 0;
  std::vector<uint8_t> body;
  for (bool first = true;; first = false) {
    uint8_t* target = in_header ? header.next() : body.data() + body_got;
    size_t want = in_header ? header.wanted() : static_cast<size_t>(length) - body_got;
    // As FdWatcher reads a socket: after the first read, without blocking.
    ssize_t n = mp::ReadSome(fd, target, want, in_header ? fds : nullptr, first ? 0 : MSG_DONTWAIT);
    // Nothing buffered: FdWatcher reads again on the next readiness event.
    if (n < 0 && errno == EAGAIN) n = mp::ReadSome(fd, target, want, in_header ? fds : nullptr);
    if (n < 0) Fail("read error");
    if (n == 0) {
      if (in_header && !header.started()) return out;
      return out.end = in_header ? End::kMidHeader : End::kMidBody, out;
    }
    if (!in_header) {
      body_got += static_cast<size_t>(n);
      if (body_got == length) {
        out.frames.push_back(std::move(body));
        in_header = true, header = mp::FrameHeader(), body = {};
      }
      continue;
    }
    switch (header.Add(static_cast<size_t>(n), &length)) {
      case mp::FrameHeader::Status::kMore: continue;
      case mp::FrameHeader::Status::kNegative: return out.end = End::kNegative, out;
      case mp::FrameHeader::Status::kDone: break;
    }
    if (length > limit) {  // the addon would allocate it; the stream ends first
      std::vector<uint8_t> sink(limit + 1);
      if (static_cast<uint64_t>(mp::ReadExact(fd, sink.data(), sink.size())) != sink.size()) return out.end = End::kMidBody, out;
      Fail("more bytes than the stream holds");
    }
    body = Body(length, limit);
    body_got = 0;
    if (length == 0) {
      out.frames.emplace_back();
      header = mp::FrameHeader();
      continue;
    }
    in_header = false;
  }
}

int dev_null = -1;

int LowestFree() {
  int fd = dup(0);
  close(fd);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1 << 16)) return -1;
  const size_t fd_count = data[0] & 3;
  const bool incremental = data[0] & 4;
  const size_t chunk = size_t{1} << ((data[0] >> 3) % 13);
  const uint8_t* stream = data + 1;
  const int lowest_free_fd = LowestFree();
  const size_t length = size - 1;

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) Fail("socketpair");
  // Room for the whole stream in chunks of a byte: the writer runs before the reader.
  int room = 32 << 20;
  if (setsockopt(pair[0], SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof(room)) != 0) setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &room, sizeof(room));
  setsockopt(pair[1], SOL_SOCKET, SO_RCVBUFFORCE, &room, sizeof(room));
  fcntl(pair[0], F_SETFL, O_NONBLOCK);

  size_t sent = 0;
  const bool with_fds = fd_count > 0 && length > 0;
  while (sent < length) {
    const size_t n = std::min(chunk, length - sent);
    iovec part{const_cast<uint8_t*>(stream + sent), n};
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int) * 3)];
    if (sent == 0 && with_fds) {
      message.msg_control = control;
      message.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
      cmsghdr* header = CMSG_FIRSTHDR(&message);
      header->cmsg_level = SOL_SOCKET;
      header->cmsg_type = SCM_RIGHTS;
      header->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
      for (size_t i = 0; i < fd_count; i++) memcpy(CMSG_DATA(header) + i * sizeof(int), &dev_null, sizeof(int));
    }
    ssize_t wrote = sendmsg(pair[0], &message, MSG_NOSIGNAL);
    if (wrote <= 0) break;  // the socket is full: the stream is what went
    sent += static_cast<size_t>(wrote);
  }
  shutdown(pair[0], SHUT_WR);

  std::vector<int> fds;
  const Outcome got = incremental ? ReadIncremental(pair[1], sent, &fds) : ReadBlocking(pair[1], sent, &fds);
  if (!(got == Reference(stream, sent))) Fail("frames differ from the reference parse");
  if (fds.size() != (with_fds ? fd_count : 0)) Fail("descriptors lost or duplicated");
  for (int fd : fds) {
    if ((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0) Fail("a received descriptor is not close-on-exec");
    close(fd);
  }
  close(pair[0]);
  close(pair[1]);
  // libFuzzer opens files now and then, also from another thread: only a lasting rise is a leak.
  for (int tries = 0; LowestFree() > lowest_free_fd; tries++) {
    if (tries == 100) Fail("a descriptor leaked");
    usleep(1000);
  }
  return 0;
}
