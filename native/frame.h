// The untrusted-byte parsing of a Connection, free of N-API so that the libFuzzer harness
// (test/fuzz/native) runs the very code the addon does: CPython's frame header and the reads
// that collect the descriptors (SCM_RIGHTS) a peer sends with it.
#pragma once
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "deadline.h"

namespace mp {

// The most descriptors one message may carry (the kernel's SCM_MAX_FD).
constexpr size_t kMaxFds = 253;

// One read; with `fds`, a recvmsg that also collects the descriptors (SCM_RIGHTS) that came with
// these bytes. A plain read lets the kernel close any that came: nothing leaks either way. `flags`
// (MSG_DONTWAIT) are for sockets only.
inline ssize_t ReadSome(int fd, uint8_t* target, size_t length, std::vector<int>* fds, int flags = 0) {
  if (fds == nullptr) return flags == 0 ? read(fd, target, length) : recv(fd, target, length, flags);
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  iovec part{target, length};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(fd, &message, MSG_CMSG_CLOEXEC | flags);
  if (n < 0 || message.msg_controllen == 0) return n;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const uint8_t* data = CMSG_DATA(header);
    for (size_t i = 0; i < count; i++) {
      int received;
      memcpy(&received, data + i * sizeof(int), sizeof(int));
      fds->push_back(received);
    }
  }
  return n;
}

// Reads exactly `length` bytes unless the peer closes first; returns the count read, or -errno.
inline int64_t ReadExact(int fd, uint8_t* target, size_t length, std::vector<int>* fds = nullptr) {
  size_t got = 0;
  while (got < length) {
    ssize_t n = ReadSome(fd, target + got, length - got, fds);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n == 0) {
      break;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd entry{fd, POLLIN, 0};
      PollWithDeadline(&entry, 1, -1);
    } else {
      return -errno;
    }
  }
  return static_cast<int64_t>(got);
}

inline uint64_t DecodeLong(const uint8_t* bytes) {
  uint64_t length = 0;
  for (int i = 0; i < 8; i++) length = (length << 8) | bytes[i];
  return length;
}

// A frame header read in pieces: a 4-byte big-endian signed length, or -1 then an 8-byte length.
// Fill next() with up to wanted() bytes, then Add() them.
class FrameHeader {
 public:
  enum class Status { kMore, kDone, kNegative };

  uint8_t* next() { return bytes_ + got_; }
  size_t wanted() const { return (got_ < 4 ? 4 : 12) - got_; }
  bool started() const { return got_ > 0; }
  bool in_long_part() const { return got_ >= 4; }

  Status Add(size_t count, uint64_t* length) {
    got_ += count;
    if (got_ == 4) {
      uint32_t be;
      memcpy(&be, bytes_, 4);
      const int32_t short_length = static_cast<int32_t>(ntohl(be));
      if (short_length == -1) return Status::kMore;
      if (short_length < 0) return Status::kNegative;
      *length = static_cast<uint64_t>(short_length);
      return Status::kDone;
    }
    if (got_ == 12) {
      *length = DecodeLong(bytes_ + 4);
      return Status::kDone;
    }
    return Status::kMore;
  }

 private:
  uint8_t bytes_[12];
  size_t got_ = 0;
};

}  // namespace mp
