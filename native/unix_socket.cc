// Frames are CPython's: a 4-byte big-endian signed length, or -1 followed by an 8-byte length for
// frames over 2 GiB. Blocking calls loop on EINTR/EAGAIN; FdWatcher reads frames incrementally
// with uv_poll on the JS thread, so no threadpool thread ever waits on a peer.
#include "unix_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "deadline.h"
#include "errors.h"
#include "frame.h"
#include "spin.h"

namespace mp {
namespace {

constexpr int64_t kShortFrameMax = 0x7fffffff;

int FdArg(const Napi::CallbackInfo& info, size_t index) {
  int64_t fd = IntArg(info, index, "fd");
  if (fd < 0 || fd > INT32_MAX) throw Napi::RangeError::New(info.Env(), "fd must be a non-negative integer");
  return static_cast<int>(fd);
}

// Waits until `fd` is ready for `events`; false on timeout. An error reports ready, so the
// following read or write reports it.
bool WaitReady(int fd, short events, double timeout_ms) {
  pollfd entry{fd, events, 0};
  return PollWithDeadline(&entry, 1, timeout_ms) != 0;
}

// Advances `parts` (and `count`) past the first `wrote` bytes.
void SkipWritten(iovec*& parts, int& count, size_t wrote) {
  while (count > 0 && wrote >= parts->iov_len) {
    wrote -= parts->iov_len;
    parts++;
    count--;
  }
  if (count > 0) {
    parts->iov_base = static_cast<uint8_t*>(parts->iov_base) + wrote;
    parts->iov_len -= wrote;
  }
}

// Writes every byte of `parts`, also to a non-blocking fd; returns 0 or errno.
int WriteAll(int fd, iovec* parts, int count) {
  while (count > 0) {
    ssize_t wrote = writev(fd, parts, count);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        WaitReady(fd, POLLOUT, -1);
        continue;
      }
      return errno;
    }
    SkipWritten(parts, count, static_cast<size_t>(wrote));
  }
  return 0;
}

size_t EncodeHeader(uint64_t length, uint8_t* header) {
  if (length <= static_cast<uint64_t>(kShortFrameMax)) {
    uint32_t be = htonl(static_cast<uint32_t>(length));
    memcpy(header, &be, 4);
    return 4;
  }
  uint32_t escape = htonl(0xffffffffu);
  memcpy(header, &escape, 4);
  for (int i = 0; i < 8; i++) header[4 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
  return 12;
}

Napi::Value Pair(Napi::Env env, int fds[2]) {
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Napi::Number::New(env, fds[0]));
  pair.Set(1u, Napi::Number::New(env, fds[1]));
  return pair;
}

// Bigger kernel buffers mean fewer wake-ups per bulk message (an AF_UNIX stream's writer is bounded
// by its own SO_SNDBUF, default ~200 KiB); the kernel caps them at wmem_max, and failure only costs speed.
void GrowBuffers(int fd) {
  constexpr int kBufferBytes = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kBufferBytes, sizeof(kBufferBytes));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kBufferBytes, sizeof(kBufferBytes));
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) ThrowErrno(info.Env(), "socketpair");
  for (int fd : fds) GrowBuffers(fd);
  return Pair(info.Env(), fds);
}

Napi::Value PipePair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) ThrowErrno(info.Env(), "pipe2");
#ifdef F_SETPIPE_SZ
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
#endif
  return Pair(info.Env(), fds);
}

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  int fd = fcntl(FdArg(info, 0), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) ThrowErrno(info.Env(), "dup");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  if (close(FdArg(info, 0)) != 0 && errno != EINTR) ThrowErrno(info.Env(), "close");
  return info.Env().Undefined();
}

// Sends the first bytes of `parts` with `fds` attached (SCM_RIGHTS) and advances `parts` past
// what went; returns 0 or errno. The rest goes by WriteAll: the descriptors travel once.
int SendWithFds(int fd, iovec*& parts, int& count, const std::vector<int>& fds) {
  std::vector<uint8_t> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = static_cast<size_t>(count);
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  ssize_t wrote;
  for (;;) {
    wrote = sendmsg(fd, &message, MSG_NOSIGNAL);
    if (wrote >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    WaitReady(fd, POLLOUT, -1);
  }
  SkipWritten(parts, count, static_cast<size_t>(wrote));
  return 0;
}

// sendFrame(fd, bytes, fds?): the header and the payload in one writev when they fit; `fds`
// (an AF_UNIX socket only) travel with the header.
Napi::Value SendFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (!info[1].IsTypedArray()) ThrowType(env, "sendFrame: bytes must be a Uint8Array");
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  uint8_t header[12];
  iovec storage[2] = {{header, EncodeHeader(bytes.ByteLength(), header)}, {bytes.Data(), bytes.ByteLength()}};
  iovec* parts = storage;
  int count = bytes.ByteLength() > 0 ? 2 : 1;
  if (info.Length() > 2 && info[2].IsArray() && info[2].As<Napi::Array>().Length() > 0) {
    Napi::Array list = info[2].As<Napi::Array>();
    if (list.Length() > kMaxFds) throw Napi::RangeError::New(env, "sendFrame: at most 253 descriptors per message");
    std::vector<int> fds(list.Length());
    for (uint32_t i = 0; i < list.Length(); i++) fds[i] = list.Get(i).As<Napi::Number>().Int32Value();
    if (int err = SendWithFds(fd, parts, count, fds)) ThrowErrno(env, "sendmsg(SCM_RIGHTS)", err);
  }
  if (int err = WriteAll(fd, parts, count)) ThrowErrno(env, "write", err);
  return env.Undefined();
}

// The descriptors that arrived with a frame, appended to the JS array `out`.
void AppendFds(Napi::Env env, Napi::Array out, const std::vector<int>& fds) {
  for (int received : fds) out.Set(out.Length(), Napi::Number::New(env, received));
}

// isUnixSocket(fd): whether descriptors can travel over fd (SCM_RIGHTS needs AF_UNIX).
Napi::Value IsUnixSocket(const Napi::CallbackInfo& info) {
  int domain = 0;
  socklen_t length = sizeof(domain);
  bool unix_socket = getsockopt(FdArg(info, 0), SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_UNIX;
  return Napi::Boolean::New(info.Env(), unix_socket);
}

// A fresh buffer for a large message faults its pages in one by one as the message is copied in
// (256 faults per MiB, more system time than the copy itself). From kLargeBytes: a private mapping
// populated in one call, unmapped when the Buffer is collected; from kHugeBytes, a mapping left
// unpopulated (as Node's own allocation is) with transparent huge pages requested (madvise mode), so
// the kernel faults 2 MiB at a time (measured faster for 64 MiB frames than populating up front).
constexpr size_t kLargeBytes = 256 << 10;
constexpr size_t kHugePage = 2 << 20;
constexpr size_t kHugeBytes = 2 * kHugePage;

// A frame this side will not read: its body stays in the stream, whose position is lost (JS
// closes the connection, as CPython does).
Napi::Error BadLength(Napi::Env env, uint64_t length, const std::string& why) {
  Napi::Error error = Napi::RangeError::New(env, "bad message length: " + std::to_string(length) + " bytes " + why);
  error.Set("code", Napi::String::New(env, "ERR_MP_BAD_MESSAGE_LENGTH"));
  return error;
}

// A peer's header may claim more than a Buffer can hold (or memory can give).
Napi::Buffer<uint8_t> NewBuffer(Napi::Env env, uint64_t length) {
  try {
    return Napi::Buffer<uint8_t>::New(env, length);
  } catch (const Napi::Error& error) {
    throw BadLength(env, length, "(" + error.Message() + ")");
  }
}

// Fresh pages are the dear part of a large frame: each is zeroed by the kernel, and on a VM that
// reports freed memory to its host (virtio-balloon free page reporting, as here) a freed 2 MiB
// block comes back only through a host fault, measured at up to 10x the cost of the copy. So the
// mappings of collected frames are kept (lazily freeable: MADV_FREE lets the kernel take them back
// under pressure) and the next frame of about their size is read into pages already in place.
class MappingCache {
 public:
  // A kept mapping of at least `length` bytes and at most a quarter more, or nullptr.
  uint8_t* Take(size_t length, size_t* capacity) {
    std::lock_guard<std::mutex> hold(mutex_);
    auto best = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->capacity >= length && it->capacity - length <= length / 4 && (best == entries_.end() || it->capacity < best->capacity)) best = it;
    if (best == entries_.end()) return nullptr;
    uint8_t* data = best->data;
    *capacity = best->capacity;
    bytes_ -= best->capacity;
    entries_.erase(best);
    return data;
  }

  // Keeps a released mapping, the oldest ones making room; one larger than the whole cache is unmapped.
  void Give(uint8_t* data, size_t capacity) {
    std::lock_guard<std::mutex> hold(mutex_);
    if (capacity > kMaxBytes) {
      munmap(data, capacity);
      return;
    }
    while (bytes_ + capacity > kMaxBytes) {
      munmap(entries_.front().data, entries_.front().capacity);
      bytes_ -= entries_.front().capacity;
      entries_.erase(entries_.begin());
    }
#ifdef MADV_FREE
    madvise(data, capacity, MADV_FREE);
#endif
    entries_.push_back({data, capacity, KeepOutOfForks(data, capacity)});
    bytes_ += capacity;
  }

  // After the fork pass (native/fork.cc) advised every private mapping into the child (a mapping
  // taken from here for a Buffer among them), takes the kept ones out again: fork(2) would copy
  // their page tables, and the child would unmap them.
  void KeepAllOutOfForks() {
    std::lock_guard<std::mutex> hold(mutex_);
    for (Entry& entry : entries_) entry.out_of_forks = KeepOutOfForks(entry.data, entry.capacity);
  }

 private:
  static constexpr size_t kMaxBytes = 256 << 20;
  struct Entry {
    uint8_t* data;
    size_t capacity;
    bool out_of_forks;  // MADV_DONTFORK: a fork child does not have it
  };

  static bool KeepOutOfForks(uint8_t* data, size_t capacity) {
#ifdef MADV_DONTFORK
    return madvise(data, capacity, MADV_DONTFORK) == 0;
#else
    return false;
#endif
  }

  std::mutex mutex_;
  std::vector<Entry> entries_;
  size_t bytes_ = 0;

 public:
  // A fork child unmaps what it inherited at once: while it shares those pages, every page the
  // parent reuses would be copied (copy-on-write) first. The lock is held across fork(2).
  void BeforeFork() { mutex_.lock(); }
  void AfterForkInParent() { mutex_.unlock(); }
  void AfterForkInChild() {
    // Where a mapping kept out of forks was, the child has a hole that something else may fill.
    for (const Entry& entry : entries_)
      if (!entry.out_of_forks) munmap(entry.data, entry.capacity);
    entries_.clear();
    bytes_ = 0;
    mutex_.unlock();
  }
};

MappingCache mapping_cache;
const int mapping_cache_forks = pthread_atfork([] { mapping_cache.BeforeFork(); }, [] { mapping_cache.AfterForkInParent(); },
                                               [] { mapping_cache.AfterForkInChild(); });

}  // namespace

void KeepCachedMappingsOutOfForks() { mapping_cache.KeepAllOutOfForks(); }

namespace {

void RecycleMapping(Napi::Env env, uint8_t* data, size_t* capacity) {
  mapping_cache.Give(data, *capacity);
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(*capacity));
  delete capacity;
}

// The largest Buffer this Node makes (buffer.constants.MAX_LENGTH, told by lib/native.ts; 4 GiB,
// Node 20's, until then). A larger length must fail before Buffer::New: Node runs the finalizer of
// a Buffer it refuses, and node-addon-api frees that finalizer's data again (a double free).
// Set by every thread that loads the addon (each Worker), always to the same value.
std::atomic<uint64_t> max_buffer_length{uint64_t{1} << 32};

Napi::Buffer<uint8_t> FrameBuffer(Napi::Env env, uint64_t length) {
  if (length > max_buffer_length.load(std::memory_order_relaxed))
    throw BadLength(env, length, "(more than a Buffer can hold: " + std::to_string(max_buffer_length.load(std::memory_order_relaxed)) + ")");
  if (length < kLargeBytes) return NewBuffer(env, length);
  // Always our own mapping here: from Node 22 on, V8 aborts the whole process when it cannot back
  // a Buffer (a hostile header announcing 2^50 bytes), so a length no mapping can hold fails here.
  size_t capacity = 0;
  uint8_t* data = length > SIZE_MAX ? nullptr : mapping_cache.Take(length, &capacity);
  if (data == nullptr) {
    const bool huge = length >= kHugeBytes;
    capacity = length;
    void* mapped = length > SIZE_MAX ? MAP_FAILED
                                     : mmap(nullptr, length, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | (huge ? 0 : MAP_POPULATE), -1, 0);
    if (mapped == MAP_FAILED) throw BadLength(env, length, std::string("(more than this process can allocate: mmap: ") + std::strerror(errno) + ")");
#ifdef MADV_HUGEPAGE
    if (huge) madvise(mapped, length, MADV_HUGEPAGE);  // a hint
#endif
    data = static_cast<uint8_t*>(mapped);
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(capacity));
  return Napi::Buffer<uint8_t>::New(env, data, length, RecycleMapping, new size_t(capacity));
}

// A frame for the blocking calls: their caller may loop on recv without ever turning the event
// loop, where N-API runs the finalizers of our mappings, so every frame it drops stayed mapped
// (2.6 GB after forty 64 MiB frames). V8 frees its own buffers at garbage collection instead; huge
// pages are asked for its interior. Lengths beyond a quarter of the machine's memory keep our own
// mapping, so a hostile header fails the read rather than V8's allocation (an abort from Node 22 on).
Napi::Buffer<uint8_t> BlockingFrameBuffer(Napi::Env env, uint64_t length) {
  static const uint64_t quarter_of_memory = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 4;
  if (length < kLargeBytes || length > max_buffer_length.load(std::memory_order_relaxed) || length > quarter_of_memory) return FrameBuffer(env, length);
  Napi::Buffer<uint8_t> frame = NewBuffer(env, length);
#ifdef MADV_HUGEPAGE
  if (length >= kHugeBytes) {
    const uintptr_t start = (reinterpret_cast<uintptr_t>(frame.Data()) + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(frame.Data()) + length) & ~(kHugePage - 1);
    if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);  // a hint
  }
#endif
  return frame;
}

// setMaxBufferLength(n): buffer.constants.MAX_LENGTH of the running Node.
Napi::Value SetMaxBufferLength(const Napi::CallbackInfo& info) {
  const int64_t length = IntArg(info, 0, "setMaxBufferLength(length)");
  if (length > 0) max_buffer_length.store(static_cast<uint64_t>(length), std::memory_order_relaxed);
  return info.Env().Undefined();
}

// allocateBytes(length): an uninitialized Buffer, from a populated mapping when it is large (lib/queues.ts).
Napi::Value AllocateBytes(const Napi::CallbackInfo& info) {
  int64_t length = IntArg(info, 0, "length");
  if (length < 0) throw Napi::RangeError::New(info.Env(), "allocateBytes: negative length");
  return FrameBuffer(info.Env(), static_cast<uint64_t>(length));
}


enum class HeaderRead { kEof, kDone, kNothingYet };

// Reads a frame header; kEof on a clean EOF before it. Descriptors travel with its first bytes.
// With `dont_wait` (a socket), kNothingYet when no byte of it is there yet; once one is, the rest
// of the frame follows back to back and is waited for.
HeaderRead ReadHeader(Napi::Env env, int fd, uint64_t* length, std::vector<int>* fds = nullptr, bool dont_wait = false) {
  FrameHeader header;
  for (bool first = true;; first = false) {
    const size_t wanted = header.wanted();
    std::vector<int>* with_fds = header.in_long_part() ? nullptr : fds;
    int64_t got;
    if (first && dont_wait) {
      ssize_t n;
      do n = ReadSome(fd, header.next(), wanted, with_fds, MSG_DONTWAIT);
      while (n < 0 && errno == EINTR);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return HeaderRead::kNothingYet;
      got = n < 0 ? -errno : n;
      if (got > 0 && static_cast<size_t>(got) < wanted) {
        const int64_t rest = ReadExact(fd, header.next() + got, wanted - static_cast<size_t>(got));
        got = rest < 0 ? rest : got + rest;
      }
    } else {
      got = ReadExact(fd, header.next(), wanted, with_fds);
    }
    if (got < 0) ThrowErrno(env, "read", static_cast<int>(-got));
    if (got == 0 && !header.started()) return HeaderRead::kEof;
    if (static_cast<size_t>(got) < wanted) throw Napi::Error::New(env, "the peer closed the connection in the middle of a message header");
    switch (header.Add(static_cast<size_t>(got), length)) {
      case FrameHeader::Status::kDone:
        return HeaderRead::kDone;
      case FrameHeader::Status::kNegative:
        throw Napi::Error::New(env, "corrupt message header (negative length)");
      case FrameHeader::Status::kMore:
        break;
    }
  }
}

void ReadBody(Napi::Env env, int fd, uint8_t* target, uint64_t length) {
  int64_t got = ReadExact(fd, target, length);
  if (got < 0) ThrowErrno(env, "read", static_cast<int>(-got));
  if (static_cast<uint64_t>(got) != length)
    throw Napi::Error::New(env, "the peer closed the connection in the middle of a message");
}

// Spins for a frame up to the ms given as argument `index`, if any, before the blocking read sleeps.
void SpinForFrame(const Napi::CallbackInfo& info, size_t index, int fd) {
  if (info.Length() <= index || !info[index].IsNumber()) return;
  pollfd entry{fd, POLLIN, 0};
  SpinPoll(&entry, 1, info[index].As<Napi::Number>().DoubleValue());
}

// One frame: a Buffer, null at EOF, or undefined when `dont_wait` and none has begun to arrive.
Napi::Value ReceiveFrame(const Napi::CallbackInfo& info, bool dont_wait) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int64_t max_length = IntArg(info, 1, "maxLength");
  const bool want_fds = info.Length() > 2 && info[2].IsArray();
  std::vector<int> fds;
  uint64_t length;
  HeaderRead got;
  if (!dont_wait) SpinForFrame(info, 3, fd);
  try {
    got = ReadHeader(env, fd, &length, want_fds ? &fds : nullptr, dont_wait);
  } catch (...) {
    for (int received : fds) close(received);
    throw;
  }
  if (want_fds) AppendFds(env, info[2].As<Napi::Array>(), fds);
  if (got == HeaderRead::kNothingYet) return env.Undefined();
  if (got == HeaderRead::kEof) return env.Null();
  if (max_length >= 0 && length > static_cast<uint64_t>(max_length)) throw BadLength(env, length, "> maxLength");
  Napi::Buffer<uint8_t> frame = BlockingFrameBuffer(env, length);
  ReadBody(env, fd, frame.Data(), length);
  return frame;
}

// recvFrame(fd, maxLength, fdsOut?, spinMs?): a Buffer, or null at EOF. maxLength < 0: no limit.
// With fdsOut (an array), the descriptors that came with the frame are appended to it. With
// spinMs, it spins that long for the frame before it sleeps (spin.h).
Napi::Value RecvFrame(const Napi::CallbackInfo& info) { return ReceiveFrame(info, false); }

// tryRecvFrame(fd, maxLength, fdsOut?): like recvFrame on a socket, but undefined at once when no
// frame has begun to arrive (no poll(2) before each read).
Napi::Value TryRecvFrame(const Napi::CallbackInfo& info) { return ReceiveFrame(info, true); }

// recvFrameInto(fd, target, offset, spinMs?): the length, or the whole message as a Buffer when it
// does not fit.
Napi::Value RecvFrameInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (!info[1].IsTypedArray()) ThrowType(env, "recvFrameInto: target must be a typed array");
  Napi::TypedArray target = info[1].As<Napi::TypedArray>();
  int64_t offset = IntArg(info, 2, "offset");
  uint8_t* base = static_cast<uint8_t*>(target.ArrayBuffer().Data()) + target.ByteOffset();
  if (offset < 0 || static_cast<size_t>(offset) > target.ByteLength())
    throw Napi::RangeError::New(env, "offset is outside the buffer");
  uint64_t length;
  SpinForFrame(info, 3, fd);
  if (ReadHeader(env, fd, &length) == HeaderRead::kEof) return env.Null();
  if (length > target.ByteLength() - static_cast<size_t>(offset)) {
    Napi::Buffer<uint8_t> whole = BlockingFrameBuffer(env, length);
    ReadBody(env, fd, whole.Data(), length);
    return whole;
  }
  ReadBody(env, fd, base + offset, length);
  return Napi::Number::New(env, static_cast<double>(length));
}

// pollFd(fd, timeoutMs): true when a read would not block (data or EOF).
Napi::Value PollFd(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  if (!info[1].IsNumber()) ThrowType(info.Env(), "timeout must be a number");
  return Napi::Boolean::New(info.Env(), WaitReady(fd, POLLIN, info[1].As<Napi::Number>().DoubleValue()));
}

// pollMany(fds, timeoutMs, spinMs?): the indices of the fds a read would not block on (empty on
// timeout). With spinMs, it spins up to that long (within the timeout) before it sleeps.
Napi::Value PollMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsNumber()) ThrowType(env, "pollMany(fds: number[], timeoutMs: number, spinMs?: number)");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<pollfd> entries(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) entries[i] = {list.Get(i).As<Napi::Number>().Int32Value(), POLLIN, 0};
  const double timeout = info[1].As<Napi::Number>().DoubleValue();
  const double spin = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
  const double spun_from = MonotonicMs();
  const bool caught = spin > 0 && SpinPoll(entries.data(), entries.size(), timeout < 0 ? spin : std::min(spin, timeout)) > 0;
  const double left = timeout < 0 ? -1 : std::max(0.0, timeout - (MonotonicMs() - spun_from));
  if (!caught && PollWithDeadline(entries.data(), entries.size(), left) < 0) ThrowErrno(env, "poll");
  Napi::Array ready = Napi::Array::New(env);
  for (uint32_t i = 0; i < entries.size(); i++)
    if (entries[i].revents != 0) ready.Set(ready.Length(), Napi::Number::New(env, i));
  return ready;
}

// sendFds(fd, fds): one byte carrying the descriptors (SCM_RIGHTS).
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (!info[1].IsArray()) ThrowType(env, "sendFds: fds must be an array");
  Napi::Array list = info[1].As<Napi::Array>();
  if (list.Length() < 1 || list.Length() > kMaxFds) throw Napi::RangeError::New(env, "sendFds: 1..253 descriptors");
  std::vector<int> fds(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) fds[i] = list.Get(i).As<Napi::Number>().Int32Value();
  uint8_t marker = 'F';
  iovec part{&marker, 1};
  iovec* parts = &part;
  int count = 1;
  if (int err = SendWithFds(fd, parts, count, fds)) ThrowErrno(env, "sendmsg(SCM_RIGHTS)", err);
  return env.Undefined();
}

// recvFds(fd, count): the descriptors sent by one sendFds (close-on-exec in this process).
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int64_t count = IntArg(info, 1, "count");
  if (count < 1 || count > static_cast<int64_t>(kMaxFds)) throw Napi::RangeError::New(env, "recvFds: count must be 1..253");
  uint8_t marker;
  std::vector<int> fds;
  int64_t got = ReadExact(fd, &marker, 1, &fds);
  if (got < 0) {
    for (int received : fds) close(received);
    ThrowErrno(env, "recvmsg(SCM_RIGHTS)", static_cast<int>(-got));
  }
  if (got == 0) throw Napi::Error::New(env, "the peer closed the connection before sending descriptors");
  if (fds.size() > static_cast<size_t>(count)) {
    for (int received : fds) close(received);
    throw Napi::Error::New(env, "recvFds: more descriptors arrived than expected");
  }
  Napi::Array result = Napi::Array::New(env);
  AppendFds(env, result, fds);
  return result;
}

// A socket address from (family, address, port): a path (a leading NUL selects Linux's abstract
// namespace) for AF_UNIX, a numeric IPv4 address for AF_INET (JS resolves names first).
socklen_t SocketAddress(Napi::Env env, const std::string& family, const std::string& address, int64_t port, sockaddr_storage* out) {
  memset(out, 0, sizeof(*out));
  if (family == "AF_UNIX") {
    auto* un = reinterpret_cast<sockaddr_un*>(out);
    if (address.empty() || address.size() >= sizeof(un->sun_path))
      throw Napi::RangeError::New(env, "AF_UNIX address must be 1.." + std::to_string(sizeof(un->sun_path) - 1) + " bytes");
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, address.data(), address.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (address[0] == '\0' ? 0 : 1));
  }
  if (family == "AF_INET") {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "port must be 0..65535");
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &in->sin_addr) != 1) {
      // A host name: blocking resolution is what the blocking calls want (async callers resolve first).
      addrinfo hints{};
      hints.ai_family = AF_INET;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      int rc = getaddrinfo(address.c_str(), nullptr, &hints, &found);
      if (rc != 0 || found == nullptr)
        throw Napi::Error::New(env, "cannot resolve host '" + address + "': " + gai_strerror(rc));
      in->sin_addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
      freeaddrinfo(found);
    }
    return sizeof(sockaddr_in);
  }
  throw Napi::TypeError::New(env, "family must be 'AF_UNIX' or 'AF_INET', got '" + family + "'");
}

// [address, port] of a socket address, as JS shows it (port 0 for AF_UNIX).
Napi::Value AddressValue(Napi::Env env, const sockaddr_storage& address, socklen_t length) {
  Napi::Array result = Napi::Array::New(env, 2);
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    char text[INET_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    result.Set(0u, Napi::String::New(env, text));
    result.Set(1u, Napi::Number::New(env, ntohs(in->sin_port)));
  } else {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&address);
    size_t path_length = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
    std::string path(un->sun_path, path_length);
    if (!path.empty() && path[0] != '\0') path = path.c_str();
    result.Set(0u, Napi::String::New(env, path));
    result.Set(1u, Napi::Number::New(env, 0));
  }
  return result;
}

int OpenSocket(Napi::Env env, const std::string& family) {
  const bool local = family == "AF_UNIX";
  int fd = socket(local ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket");
  if (local) GrowBuffers(fd);
  return fd;
}

// listenSocket(family, address, port, backlog): [fd, [address, port]]; the fd is non-blocking.
Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string family = info[0].As<Napi::String>();
  std::string address = info[1].As<Napi::String>();
  sockaddr_storage bind_address;
  socklen_t length = SocketAddress(env, family, address, IntArg(info, 2, "port"), &bind_address);
  int fd = OpenSocket(env, family);
  int one = 1;
  if (family == "AF_INET") setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Owner-only before listen(2): until then no connect can succeed, so no peer slips in between.
  const bool named_path = family == "AF_UNIX" && !address.empty() && address[0] != '\0';
  const bool bound_ok = bind(fd, reinterpret_cast<sockaddr*>(&bind_address), length) == 0;
  if (!bound_ok || (named_path && chmod(address.c_str(), 0600) != 0) || listen(fd, static_cast<int>(IntArg(info, 3, "backlog"))) != 0) {
    int err = errno;
    close(fd);
    if (bound_ok && named_path) unlink(address.c_str());
    ThrowErrno(env, "bind/listen(" + address + ")", err);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  sockaddr_storage bound;
  socklen_t bound_length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fd));
  result.Set(1u, AddressValue(env, bound, bound_length));
  return result;
}

// A Connection sends each message whole in one write and may send several before a reply (pipelined
// Async calls): Nagle's algorithm would hold the later ones for the peer's delayed ACK (~40 ms).
static void NoDelay(int fd) {
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

// acceptSocket(fd, timeoutMs): [fd, [address, port]] or null on timeout; the new fd blocks.
Napi::Value AcceptSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  double timeout = info[1].As<Napi::Number>().DoubleValue();
  const double deadline = timeout < 0 ? -1 : MonotonicMs() + timeout;
  for (;;) {
    sockaddr_storage peer;
    socklen_t length = sizeof(peer);
    int accepted = accept4(fd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    if (accepted >= 0) {
      if (peer.ss_family == AF_UNIX) GrowBuffers(accepted);
      else NoDelay(accepted);
      Napi::Array result = Napi::Array::New(env, 2);
      result.Set(0u, Napi::Number::New(env, accepted));
      result.Set(1u, AddressValue(env, peer, length));
      return result;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) ThrowErrno(env, "accept");
    double left = deadline < 0 ? -1 : deadline - MonotonicMs();
    if (deadline >= 0 && left <= 0) return env.Null();
    if (!WaitReady(fd, POLLIN, left) && deadline >= 0) return env.Null();
  }
}

// connectSocket(family, address, port, blocking): [fd, connected]. A non-blocking connect may be
// in progress (connected false): wait until writable, then connectResult(fd).
Napi::Value ConnectSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string family = info[0].As<Napi::String>();
  std::string address = info[1].As<Napi::String>();
  sockaddr_storage peer;
  socklen_t length = SocketAddress(env, family, address, IntArg(info, 2, "port"), &peer);
  const bool blocking = info[3].As<Napi::Boolean>();
  int fd = OpenSocket(env, family);
  if (peer.ss_family != AF_UNIX) NoDelay(fd);
  if (!blocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int rc;
  do rc = connect(fd, reinterpret_cast<sockaddr*>(&peer), length);
  while (rc != 0 && errno == EINTR && blocking);
  if (rc != 0 && !(errno == EINPROGRESS || (errno == EINTR && !blocking))) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "connect(" + address + ")", err);
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fd));
  result.Set(1u, Napi::Boolean::New(env, rc == 0));
  return result;
}

// connectResult(fd): finishes a non-blocking connect (throws its error) and makes the fd blocking.
Napi::Value ConnectResult(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int err = 0;
  socklen_t length = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) err = errno;
  if (err != 0) ThrowErrno(info.Env(), "connect", err);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return info.Env().Undefined();
}

// new FdWatcher(fd, callback): readFrame(maxLength) or waitReadable() arms it once; the callback
// gets (error, frame | null at EOF) or (null, true) on the JS thread. Armed with `repeat`, it stays
// armed after each frame or readiness until cancel() or an error or EOF: no epoll change per message.
class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "FdWatcher",
                       {InstanceMethod<&FdWatcher::ReadFrame>("readFrame"),
                        InstanceMethod<&FdWatcher::WaitReadable>("waitReadable"),
                        InstanceMethod<&FdWatcher::WaitWritable>("waitWritable"),
                        InstanceMethod<&FdWatcher::Cancel>("cancel"),
                        InstanceMethod<&FdWatcher::Close>("close")});
  }

  explicit FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    fd_ = FdArg(info, 0);
    if (!info[1].IsFunction()) ThrowType(env, "FdWatcher callback must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    handle_ = new uv_poll_t;
    int err = uv_poll_init(loop, handle_, fd_);
    if (err != 0) {
      delete handle_;
      handle_ = nullptr;
      throw Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(err));
    }
    handle_->data = this;
    struct stat status;
    socket_ = fstat(fd_, &status) == 0 && S_ISSOCK(status.st_mode);
    context_ = std::make_unique<Napi::AsyncContext>(env, "mpjs-connection");
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    env_ = env;
  }

  ~FdWatcher() override {
    if (handle_ != nullptr) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    CloseHandle();
    CloseFds();
  }

 private:
  enum class Mode { kIdle, kFrame, kReadable, kWritable };

  static void CleanupHook(void* self) { static_cast<FdWatcher*>(self)->CloseHandle(); }

  void CloseHandle() {
    if (handle_ == nullptr) return;
    StopPolling();
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    handle_ = nullptr;
  }

  void Arm(Napi::Env env, Mode mode) {
    if (handle_ == nullptr) throw Napi::Error::New(env, "the connection is closed");
    if (mode_ != Mode::kIdle) throw Napi::Error::New(env, "another async read is already in progress on this connection");
    mode_ = mode;
    StartPolling(mode == Mode::kWritable ? UV_WRITABLE | UV_DISCONNECT : UV_READABLE | UV_DISCONNECT);
  }

  // uv_poll_start always costs two epoll_ctl calls (libuv removes the fd, then adds it back): a
  // handle already watching for these events is left as it is, so a read armed again from the
  // callback of the last one (a recvAsync loop) costs no system call.
  void StartPolling(int events) {
    if (handle_ == nullptr || polling_ == events) return;
    polling_ = events;
    uv_poll_start(handle_, events, OnPoll);
  }

  void StopPolling() {
    polling_ = 0;
    if (handle_ != nullptr) uv_poll_stop(handle_);
  }

  Napi::Value WaitWritable(const Napi::CallbackInfo& info) {
    Arm(info.Env(), Mode::kWritable);
    return info.Env().Undefined();
  }

  Napi::Value ReadFrame(const Napi::CallbackInfo& info) {
    max_length_ = IntArg(info, 0, "maxLength");
    want_fds_ = info.Length() > 1 && info[1].ToBoolean();
    CloseFds();
    ResetFrame();
    Arm(info.Env(), Mode::kFrame);
    repeat_ = info.Length() > 2 && info[2].ToBoolean();
    return info.Env().Undefined();
  }

  void ResetFrame() {
    header_ = FrameHeader();
    body_got_ = 0;
    body_length_ = 0;
    body_.Reset();
  }

  Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
    Arm(info.Env(), Mode::kReadable);
    repeat_ = info.Length() > 0 && info[0].ToBoolean();
    return info.Env().Undefined();
  }

  // Stops waiting unless part of a frame was already consumed (then the read must finish, or the
  // stream would lose its place); returns whether it stopped.
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    bool stoppable = mode_ == Mode::kReadable || mode_ == Mode::kWritable || (mode_ == Mode::kFrame && !header_.started());
    if (stoppable) {
      mode_ = Mode::kIdle;
      StopPolling();
    }
    return Napi::Boolean::New(info.Env(), stoppable || mode_ == Mode::kIdle);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    CloseHandle();
    mode_ = Mode::kIdle;
    body_.Reset();
    CloseFds();
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<FdWatcher*>(handle->data);
    // A loop callback must not throw (std::terminate): an error of the read itself (a peer's
    // frame too large to allocate) goes to the waiting read; when JS cannot run at all (a Worker
    // being terminated) nobody is left to tell, and the read just stops.
    try {
      self->Step(status);
    } catch (const Napi::Error& error) {
      try {
        Napi::HandleScope scope(self->env_);
        self->Finish(error.Value(), self->env_.Undefined());
      } catch (const Napi::Error&) {
        self->mode_ = Mode::kIdle;
        self->StopPolling();
      }
    }
  }

  // Reads what is available without ever blocking: the first read follows a readiness event,
  // later ones take only what FIONREAD reports. The loop keeps turning during large frames.
  void Step(int status) {
    poll_failed_ = status < 0;
    if (poll_failed_) polling_ = 0;  // libuv stopped the handle
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    // libuv reports POLLERR (a refused connect, a reset) as a failed status and stops the handle.
    // As poll(2) does for the blocking calls, that counts as ready: the call that follows (a read,
    // connectResult) reports the socket's own error, after any data that arrived before it.
    if (mode_ == Mode::kReadable || mode_ == Mode::kWritable) return Finish(env.Null(), Napi::Boolean::New(env, true));
    if (mode_ != Mode::kFrame) return;
    auto keep_waiting = [this] { StartPolling(UV_READABLE | UV_DISCONNECT); };
    for (bool first = true;; first = false) {
      const bool in_header = body_.IsEmpty();
      uint8_t* target = in_header ? header_.next() : body_.Value().Data() + body_got_;
      size_t want = in_header ? header_.wanted() : body_length_ - body_got_;
      // A socket is read without blocking (one call, EAGAIN when empty); a pipe has no such flag.
      if (!first && !socket_) {
        int available = 0;
        if (ioctl(fd_, FIONREAD, &available) != 0 || available <= 0) return keep_waiting();
        want = std::min(want, static_cast<size_t>(available));
      }
      // Descriptors travel with a frame's first bytes (SendWithFds): only header reads use recvmsg.
      ssize_t n = ReadSome(fd_, target, want, want_fds_ && in_header ? &fds_ : nullptr, !first && socket_ ? MSG_DONTWAIT : 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) return keep_waiting();
        return Finish(ErrnoError(env, "read", errno).Value(), env.Undefined());
      }
      if (n == 0) {
        if (in_header && !header_.started()) return Finish(env.Null(), env.Null());
        return Finish(Napi::Error::New(env, "the peer closed the connection in the middle of a message").Value(), env.Undefined());
      }
      if (!in_header) {
        body_got_ += static_cast<size_t>(n);
        if (body_got_ == body_length_) return Deliver();
        continue;
      }
      switch (header_.Add(static_cast<size_t>(n), &body_length_)) {
        case FrameHeader::Status::kMore:
          continue;
        case FrameHeader::Status::kNegative:
          return Finish(Napi::Error::New(env, "corrupt message header (negative length)").Value(), env.Undefined());
        case FrameHeader::Status::kDone:
          break;
      }
      if (max_length_ >= 0 && body_length_ > static_cast<uint64_t>(max_length_)) return Finish(BadLength(env, body_length_, "> maxLength").Value(), env.Undefined());
      body_ = Napi::Persistent(FrameBuffer(env, body_length_));
      body_got_ = 0;
      if (body_length_ == 0) return Deliver();
    }
  }

  void Deliver() {
    Napi::Value frame = body_.Value();
    body_.Reset();
    Finish(env_.Null(), frame);
  }

  // A frame's descriptors go to the callback with it; those of a failed or abandoned read are closed.
  void Finish(Napi::Value error, Napi::Value result) {
    if (repeat_ && error.IsNull() && !result.IsNull()) {
      ResetFrame();
      // libuv stops a handle whose poll failed: a repeating watcher takes it up again.
      StartPolling(mode_ == Mode::kWritable ? UV_WRITABLE | UV_DISCONNECT : UV_READABLE | UV_DISCONNECT);
    } else {
      mode_ = Mode::kIdle;
    }
    Napi::Array fds = Napi::Array::New(env_);
    if (error.IsNull()) AppendFds(env_, fds, fds_);
    else CloseFds();
    fds_.clear();
    // Raw napi_make_callback: a callback that ends its Worker thread (process.exit in a pool
    // thread) leaves a termination pending, which node-addon-api would turn into a fatal error.
    napi_value argv[3] = {error, result, fds};
    napi_value ignored;
    const napi_status status = napi_make_callback(env_, *context_, Value(), callback_.Value(), 3, argv, &ignored);
    // The handle stays armed through the callback (and its microtasks): stopped only if no read
    // was armed again there.
    if (mode_ == Mode::kIdle) StopPolling();
    if (status != napi_pending_exception) return;
    // What the callback threw is the program's error, as in any I/O callback: uncaughtException.
    // Left pending it would vanish, or come back to this callback as if the read had failed. A
    // terminating Worker has no exception to give (undefined): nobody is left to tell.
    napi_value thrown;
    napi_valuetype type;
    if (napi_get_and_clear_last_exception(env_, &thrown) == napi_ok && napi_typeof(env_, thrown, &type) == napi_ok &&
        type != napi_undefined)
      napi_fatal_exception(env_, thrown);
  }

  void CloseFds() {
    for (int received : fds_) close(received);
    fds_.clear();
  }

  Napi::Env env_ = nullptr;
  int fd_ = -1;
  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  Mode mode_ = Mode::kIdle;
  bool repeat_ = false;
  bool poll_failed_ = false;
  bool socket_ = false;
  int polling_ = 0;  // the events the handle watches (0: stopped)
  int64_t max_length_ = -1;
  FrameHeader header_;
  uint64_t body_length_ = 0;
  size_t body_got_ = 0;
  Napi::Reference<Napi::Buffer<uint8_t>> body_;
  bool want_fds_ = false;
  std::vector<int> fds_;
};

}  // namespace

void InitUnixSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("pipePair", Napi::Function::New(env, PipePair, "pipePair"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
  exports.Set("sendFrame", Napi::Function::New(env, SendFrame, "sendFrame"));
  exports.Set("recvFrame", Napi::Function::New(env, RecvFrame, "recvFrame"));
  exports.Set("tryRecvFrame", Napi::Function::New(env, TryRecvFrame, "tryRecvFrame"));
  exports.Set("recvFrameInto", Napi::Function::New(env, RecvFrameInto, "recvFrameInto"));
  exports.Set("pollFd", Napi::Function::New(env, PollFd, "pollFd"));
  exports.Set("pollMany", Napi::Function::New(env, PollMany, "pollMany"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("allocateBytes", Napi::Function::New(env, AllocateBytes, "allocateBytes"));
  exports.Set("setMaxBufferLength", Napi::Function::New(env, SetMaxBufferLength, "setMaxBufferLength"));
  exports.Set("isUnixSocket", Napi::Function::New(env, IsUnixSocket, "isUnixSocket"));
  exports.Set("listenSocket", Napi::Function::New(env, ListenSocket, "listenSocket"));
  exports.Set("acceptSocket", Napi::Function::New(env, AcceptSocket, "acceptSocket"));
  exports.Set("connectSocket", Napi::Function::New(env, ConnectSocket, "connectSocket"));
  exports.Set("connectResult", Napi::Function::New(env, ConnectResult, "connectResult"));
  exports.Set("FdWatcher", FdWatcher::Init(env));
}

}  // namespace mp
