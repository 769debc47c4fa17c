// Segment: create/attach named shm segments, count users, unlink when the last user is gone.
#include "shm.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "errors.h"
#include "resource_tracker.h"
#include "system.h"

namespace mp {

static constexpr uint32_t kMagic = 0x534a504d;  // "MPJS"
static constexpr uint32_t kVersion = 2;
static constexpr size_t kUserSlots = 126;

// Lives at offset 0 of every managed segment; the user area starts right after it.
// Each process that uses the segment holds one slot; a slot whose process is dead is reclaimed, so
// a SIGKILLed user does not keep the segment alive forever. A slot names its process by pid and
// start time: pids wrap within minutes on a busy machine, and a reused pid must not count as the user.
struct SegmentHeader {
  uint32_t magic;
  uint32_t version;
  uint64_t size;
  std::atomic<int32_t> overflow;  // users that found the table full; they block reclamation
  // Handles to this segment inside messages not yet received: a message is a user too, so a
  // handle whose sender exits before its receiver attaches still finds the segment.
  std::atomic<int32_t> in_flight;
  struct Slot {
    std::atomic<int32_t> pid;
    std::atomic<int32_t> count;
    std::atomic<uint64_t> started;  // 0 until its owner wrote it (then the pid alone decides)
  } users[kUserSlots];
  // Who last emptied a slot (its own or a dead process's): names the culprit when a segment leaks.
  std::atomic<int32_t> last_cleared_by;
  char unused[4];
};
static_assert(sizeof(SegmentHeader) == 2048, "header layout is shared between processes");
static_assert(std::atomic<int32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "atomics in shared memory must be lock-free");

Mapping::~Mapping() { munmap(base, length); }

namespace {

struct Fd {
  explicit Fd(int fd) : fd(fd) {}
  ~Fd() { if (fd >= 0) close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

// Managed segments still open in this process, so they are released at exit(): Node's
// process.exit() skips N-API finalizers.
std::mutex live_mutex;
std::unordered_set<Segment*> live_segments;

// This process's start time, read once per process (a fork child has a pid and a start of its own).
uint64_t MyStartTime() {
  thread_local pid_t pid = 0;
  thread_local uint64_t started = 0;
  if (pid != getpid()) {
    pid = getpid();
    started = ProcessStartTime(pid);
  }
  return started;
}

bool SlotAlive(SegmentHeader::Slot& slot, int32_t pid) { return ProcessAlive(pid, slot.started.load()); }

// Frees the slot of a dead process (unless another took it meanwhile).
void Reclaim(SegmentHeader* h, SegmentHeader::Slot& slot, int32_t pid) {
  slot.count.store(0);
  slot.started.store(0);
  if (slot.pid.compare_exchange_strong(pid, 0)) h->last_cleared_by.store(getpid());
}

// This process's slot: its pid, and its start time unless another thread of it is still writing
// that. A slot with this pid and another start was a dead process's: it is reclaimed, never reused.
bool Mine(SegmentHeader::Slot& slot, int32_t me) {
  if (slot.pid.load() != me) return false;
  const uint64_t started = slot.started.load();
  return started == 0 || started == MyStartTime();
}

// Records one use by this process; false when the table was full and the use went to `overflow`.
// `first` tells whether this process had no use of the segment before.
bool AddUser(SegmentHeader* h, bool* first) {
  const int32_t me = getpid();
  const uint64_t started = MyStartTime();
  *first = true;
  for (auto& slot : h->users)
    if (Mine(slot, me)) {
      *first = slot.count.fetch_add(1) == 0;
      return true;
    }
  for (int attempt = 0; attempt < 2; attempt++) {
    for (auto& slot : h->users) {
      int32_t expected = 0;
      if (slot.pid.load() == 0 && slot.pid.compare_exchange_strong(expected, me)) {
        slot.started.store(started);
        slot.count.fetch_add(1);
        return true;
      }
    }
    for (auto& slot : h->users) {  // full: reclaim the slots of dead processes, then retry once
      int32_t pid = slot.pid.load();
      if (pid != 0 && !SlotAlive(slot, pid)) Reclaim(h, slot, pid);
    }
  }
  h->overflow.fetch_add(1);
  return false;
}

// True when no live process uses the segment; reclaims the slots of dead ones on the way.
// `count_in_flight`: handles in undelivered messages count as users (not once every process of
// the tree is gone: nobody is left to receive them).
bool NoLiveUser(SegmentHeader* h, bool count_in_flight) {
  if (h->overflow.load() > 0 || (count_in_flight && h->in_flight.load() > 0)) return false;
  for (auto& slot : h->users) {
    int32_t pid = slot.pid.load();
    if (pid == 0) continue;
    if (SlotAlive(slot, pid)) return false;
    Reclaim(h, slot, pid);
  }
  return true;
}

// Drops one use by this process; `last` tells whether it was this process's last use.
// Returns true when no live user is left, i.e. the caller must unlink.
bool RemoveUser(SegmentHeader* h, bool in_table, bool* last) {
  const int32_t me = getpid();
  *last = true;
  if (!in_table) h->overflow.fetch_sub(1);
  for (auto& slot : h->users) {
    if (!in_table || !Mine(slot, me)) continue;
    *last = slot.count.fetch_sub(1) == 1;
    if (*last) {
      slot.started.store(0);
      int32_t expected = me;
      if (slot.pid.compare_exchange_strong(expected, 0)) h->last_cleared_by.store(me);
    }
    break;
  }
  return NoLiveUser(h, true);
}

}  // namespace

bool SegmentUnused(const char* name) {
  int fd = shm_open(name, O_RDWR, 0);
  if (fd < 0) return errno == ENOENT;  // already unlinked: nobody can use it
  struct stat st;
  bool unused = false;
  if (fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) >= sizeof(SegmentHeader)) {
    void* base = mmap(nullptr, sizeof(SegmentHeader), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base != MAP_FAILED) {
      auto* header = static_cast<SegmentHeader*>(base);
      unused = header->magic == kMagic && NoLiveUser(header, false);
      munmap(base, sizeof(SegmentHeader));
    }
  }
  close(fd);
  return unused;
}

void Segment::ReleaseAllAtExit() {
  std::unordered_set<Segment*> segments;
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    segments.swap(live_segments);
  }
  for (Segment* segment : segments) segment->ReleaseUse();  // mappings stay: other threads may still run
}

Napi::Function Segment::Init(Napi::Env env) {
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit(ReleaseAllAtExit); });
  return DefineClass(env, "Segment",
                     {
                         InstanceAccessor<&Segment::Buffer>("buffer"),
                         InstanceAccessor<&Segment::Name>("name"),
                         InstanceAccessor<&Segment::Size>("size"),
                         InstanceAccessor<&Segment::Closed>("closed"),
                         InstanceMethod<&Segment::Users>("users"),
                         InstanceMethod<&Segment::Sent>("sent"),
                         InstanceMethod<&Segment::Received>("received"),
                         InstanceMethod<&Segment::Close>("close"),
                         InstanceMethod<&Segment::Unlink>("unlink"),
                     });
}

// posix_fallocate returns its error instead of setting errno; a signal can interrupt a large one.
static int ReservePages(int fd, size_t length) {
  int err;
  do err = posix_fallocate(fd, 0, static_cast<off_t>(length));
  while (err == EINTR);
  // Filesystems that cannot reserve (EOPNOTSUPP) keep the ftruncate size, as before.
  return err == EOPNOTSUPP ? 0 : err;
}

// new Segment(name, size, create, managed): size is ignored when attaching.
Segment::Segment(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Segment>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsBoolean() || !info[3].IsBoolean())
    ThrowType(env, "Segment(name: string, size: number, create: boolean, managed: boolean)");
  name_ = info[0].As<Napi::String>();
  const bool create = info[2].As<Napi::Boolean>();
  const bool managed = info[3].As<Napi::Boolean>();
  const size_t header = managed ? sizeof(SegmentHeader) : 0;

  Fd fd(shm_open(name_.c_str(), create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR, 0600));
  if (fd.fd < 0) ThrowErrno(env, std::string("shm_open(") + name_ + ")");
  size_t length;
  if (create) {
    int64_t requested = info[1].As<Napi::Number>().Int64Value();
    if (requested < 0) ThrowType(env, "Segment size must not be negative");
    length = header + static_cast<size_t>(requested);
    if (length == 0 || ftruncate(fd.fd, static_cast<off_t>(length)) != 0) {
      int err = length == 0 ? EINVAL : errno;
      shm_unlink(name_.c_str());
      ThrowErrno(env, "ftruncate(" + name_ + ")", err);
    }
    // ftruncate only sets the size: a full /dev/shm would surface later as SIGBUS on the first
    // write to an unbacked page. Reserving every page now turns that into ENOSPC here.
    int err = ReservePages(fd.fd, length);
    if (err != 0) {
      shm_unlink(name_.c_str());
      ThrowErrno(env, "posix_fallocate(/dev/shm" + name_ + ", " + std::to_string(length) + " bytes)", err);
    }
  } else {
    struct stat st;
    if (fstat(fd.fd, &st) != 0) ThrowErrno(env, "fstat(" + name_ + ")");
    length = static_cast<size_t>(st.st_size);
    if (length < header || length == 0) ThrowErrno(env, "attach(" + name_ + "): segment too small", EINVAL);
  }
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    if (create) shm_unlink(name_.c_str());
    ThrowErrno(env, "mmap(" + name_ + ")", err);
  }
  mapping_ = std::make_shared<Mapping>(base, length);
  data_ = static_cast<uint8_t*>(base) + header;
  size_ = length - header;
  if (!managed) return;

  header_ = static_cast<SegmentHeader*>(base);
  if (create) {
    header_->magic = kMagic;
    header_->version = kVersion;
    header_->size = size_;
  } else if (header_->magic != kMagic || header_->version != kVersion || header_->size > size_) {
    ThrowErrno(env, "attach(" + name_ + "): not a multiprocess segment", EINVAL);
  }
  user_pid_ = getpid();
  bool first = false;
  in_table_ = AddUser(header_, &first);
  if (first) {
    try {
      TrackSegment(name_, true);
    } catch (const CallFailed& failed) {
      // Creator or not: the tracker never heard of this use, so the last user must unlink.
      bool last = false;
      if (RemoveUser(header_, in_table_, &last)) shm_unlink(name_.c_str());
      ThrowErrno(env, failed);
    }
  }
  std::lock_guard<std::mutex> lock(live_mutex);
  live_segments.insert(this);
}

Segment::~Segment() { Release(); }

// Runs on the only thread of a fresh fork child: no other thread can hold live_mutex's copy.
void Segment::AdoptAfterFork() {
  std::lock_guard<std::mutex> lock(live_mutex);
  const int32_t me = getpid();
  for (Segment* segment : live_segments) {
    if (segment->closed_ || !segment->header_ || segment->user_pid_ == me) continue;
    bool first = false;
    segment->in_table_ = AddUser(segment->header_, &first);
    segment->user_pid_ = me;
    try {
      if (first) TrackSegment(segment->name_, true);
    } catch (const CallFailed&) {
      // The inherited tracker pipe is gone: the slot in the header still protects the segment.
    }
  }
}

// Gives up this object's use of the segment; unlinks the name when it was the last user.
bool Segment::Release() {
  if (closed_) return false;
  if (header_) {
    std::lock_guard<std::mutex> lock(live_mutex);
    live_segments.erase(this);
  }
  bool unlinked = ReleaseUse();
  mapping_.reset();
  return unlinked;
}

// A forked child inherits the mapping but never registered as a user, so it has nothing to drop.
bool Segment::ReleaseUse() {
  if (closed_) return false;
  closed_ = true;
  if (!header_ || user_pid_ != getpid()) return false;
  bool last = false;
  const bool unlinked = RemoveUser(header_, in_table_, &last) && shm_unlink(name_.c_str()) == 0;
  // Untracked only after the unlink: a process killed in between (a worker stopped during exit)
  // leaves the name with the tracker, which unlinks it once the tree is gone. While a message
  // still carries a handle, the tracker keeps the name too, for the case it is never received.
  if (last && header_->in_flight.load() == 0) TrackSegment(name_, false);
  return unlinked;
}

Segment* Segment::From(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) ThrowType(env, "expected a Segment");
  Segment* segment = Unwrap(value.As<Napi::Object>());
  if (segment == nullptr) ThrowType(env, "expected a Segment");
  if (segment->closed_) throw Napi::Error::New(env, "the shared segment " + segment->name_ + " is closed");
  return segment;
}

Napi::Value Segment::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!buffer_.IsEmpty()) return buffer_.Value();
  if (closed_) throw Napi::Error::New(env, "the shared segment " + name_ + " is closed");
  auto* keeper = new std::shared_ptr<Mapping>(mapping_);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, data_, size_, [](Napi::Env, void*, std::shared_ptr<Mapping>* hint) { delete hint; }, keeper);
  buffer_ = Napi::Persistent(buffer);
  return buffer;
}

Napi::Value Segment::Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
Napi::Value Segment::Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(size_)); }
Napi::Value Segment::Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

// Number of live processes using a managed segment (for tests and diagnostics).
Napi::Value Segment::Users(const Napi::CallbackInfo& info) {
  if (!header_ || closed_) return Napi::Number::New(info.Env(), 0);
  int users = header_->overflow.load();
  for (auto& slot : header_->users) {
    int32_t pid = slot.pid.load();
    if (pid != 0 && SlotAlive(slot, pid)) users++;
  }
  return Napi::Number::New(info.Env(), users);
}

// sent(): a handle to this segment went into a message; received(): a message's handle arrived
// (and its receiver is now a user). A handle received more often than sent never drives it negative.
Napi::Value Segment::Sent(const Napi::CallbackInfo& info) {
  if (header_ && !closed_) header_->in_flight.fetch_add(1);
  return info.Env().Undefined();
}

Napi::Value Segment::Received(const Napi::CallbackInfo& info) {
  if (header_ && !closed_) {
    int32_t count = header_->in_flight.load();
    while (count > 0 && !header_->in_flight.compare_exchange_weak(count, count - 1)) {
    }
  }
  return info.Env().Undefined();
}

// close() -> true when this was the last user and the name was unlinked.
Napi::Value Segment::Close(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Release()); }

Napi::Value Segment::Unlink(const Napi::CallbackInfo& info) {
  if (shm_unlink(name_.c_str()) != 0) ThrowErrno(info.Env(), "shm_unlink(" + name_ + ")");
  return info.Env().Undefined();
}

}  // namespace mp
