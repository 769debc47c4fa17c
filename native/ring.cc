// Ring waits: blocking waits until a 32-bit word of a segment changes, wakes, writer-death checks,
// RingWatcher (one thread parked on one word, calling back into the event loop) and RingReadable
// (an eventfd that mirrors whether the ring holds bytes).
#include "ring.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bell.h"
#include "errors.h"
#include "semlock.h"
#include "shm.h"
#include "wait.h"

namespace mp {
namespace {

// Sleepers re-read their word at least this often (lib/queues.ts RECHECK_MS): a writer killed
// between its commit and its wake-up call must not leave a message unseen.
constexpr double kRecheckMs = 250;
// How long a blocking wait spins on its word before it sleeps.
constexpr double kSpinMs = 0.02;

// The int32 word at byte `offset` of the Segment passed as argument `index` (bounds and alignment checked).
std::atomic<int32_t>* WordArg(const Napi::CallbackInfo& info, size_t index, size_t offset_index) {
  Segment* segment = Segment::From(info[index]);
  int64_t offset = IntArg(info, offset_index, "offset");
  if (offset < 0 || offset % 4 != 0 || static_cast<size_t>(offset) + 4 > segment->size())
    throw Napi::RangeError::New(info.Env(), "ring word offset " + std::to_string(offset) + " is outside its segment");
  return reinterpret_cast<std::atomic<int32_t>*>(segment->data() + offset);
}

// ringWait(segment, wordOffset, expected, waitersOffset, timeoutMs): parks while the word equals
// `expected`, at most timeoutMs (< 0: no limit). Callers re-check their condition on return;
// kInterrupted says this thread's armed bell rang (lib/blocking.ts).
Napi::Value RingWait(const Napi::CallbackInfo& info) {
  std::atomic<int32_t>* word = WordArg(info, 0, 1);
  const int32_t expected = static_cast<int32_t>(IntArg(info, 2, "expected"));
  std::atomic<int32_t>* waiters = WordArg(info, 0, 3);
  if (!info[4].IsNumber()) ThrowType(info.Env(), "timeout must be a number");
  const double timeout = info[4].As<Napi::Number>().DoubleValue();
  // A reader that keeps up with its writer finds the ring empty after almost every message: a
  // short spin catches the next one without a futex round trip (the writer's wake-up system call
  // and this thread's sleep and reschedule), the cost that otherwise bounds small messages.
  const double spin_until = MonotonicMs() + std::min(kSpinMs, timeout < 0 ? kSpinMs : timeout);
  for (int i = 1; word->load(std::memory_order_relaxed) == expected; i++) {
    if ((i & 63) == 0 && MonotonicMs() >= spin_until) break;
    CpuRelax();
  }
  if (word->load() != expected) return info.Env().Undefined();
  if (!BellRang()) ParkRingable(word, expected, waiters, timeout);
  return BellRang() ? Napi::Number::New(info.Env(), kInterrupted) : info.Env().Undefined();
}

Napi::Value RingWake(const Napi::CallbackInfo& info) {
  WakeWord(WordArg(info, 0, 1), INT_MAX);
  return info.Env().Undefined();
}

// ringOwnerDied(segment, lockOffset): the SemLock there is held by a process that no longer exists.
Napi::Value RingOwnerDied(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), OwnerDied(StateArg(info, 0)));
}

// new RingWatcher(segment, wordOffset, waitersOffset, onChange): after arm(expected), calls
// onChange on the JS thread once the word differs from `expected`. Idle watchers keep no loop alive.
class RingWatcher : public WatcherThread<RingWatcher> {
 public:
  explicit RingWatcher(const Napi::CallbackInfo& info)
      : WatcherThread(info, 3, "mpjs-ring-watch", WordArg(info, 0, 1), Segment::From(info[0])->mapping()),
        word_(WordArg(info, 0, 1)),
        waiters_(WordArg(info, 0, 2)) {}

  void WaitUntilReady(int32_t expected) {
    while (!stopping() && word_->load() == expected) {
      ParkCounted(word_, expected, waiters_, kRecheckMs);
    }
  }

 private:
  std::atomic<int32_t>* word_;
  std::atomic<int32_t>* waiters_;
};

// new RingReadable(segment, tailOffset, headOffset, readersWaitingOffset, writersWaitingOffset):
// an eventfd that is readable exactly while the ring holds bytes, so poll(2), wait() and the event
// loop can watch a Queue like CPython's Queue._reader pipe. Its thread parks on the tail word
// while the ring is empty and on the head word while it is not.
class RingReadable : public Napi::ObjectWrap<RingReadable> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RingReadable",
                       {InstanceMethod<&RingReadable::Fileno>("fileno"), InstanceMethod<&RingReadable::Close>("close")});
  }

  explicit RingReadable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingReadable>(info) {
    tail_ = WordArg(info, 0, 1);
    head_ = WordArg(info, 0, 2);
    readers_waiting_ = WordArg(info, 0, 3);
    writers_waiting_ = WordArg(info, 0, 4);
    mapping_ = Segment::From(info[0])->mapping();
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0) ThrowErrno(info.Env(), "eventfd");
    owner_pid_ = getpid();
    thread_ = std::thread([this] {
      Run();
      exited_.store(true);
    });
    CountWatcherThread(1);
  }

  ~RingReadable() override { Stop(); }

 private:
  void Run() {
    bool readable = false;
    while (!stopping_) {
      const int32_t tail = tail_->load();
      const int32_t head = head_->load();
      if (tail != head) {
        if (!readable) {
          const uint64_t one = 1;
          readable = write(event_fd_, &one, sizeof(one)) == sizeof(one);
        }
        Park(head_, head, writers_waiting_);
      } else {
        if (readable) {
          uint64_t count;
          readable = read(event_fd_, &count, sizeof(count)) != sizeof(count);
        }
        Park(tail_, tail, readers_waiting_);
      }
    }
  }

  void Park(std::atomic<int32_t>* word, int32_t expected, std::atomic<int32_t>* waiters) {
    if (!stopping_) ParkCounted(word, expected, waiters, kRecheckMs);
  }

  Napi::Value Fileno(const Napi::CallbackInfo& info) {
    if (stopping_) throw Napi::Error::New(info.Env(), "the queue's reader is closed");
    return Napi::Number::New(info.Env(), event_fd_);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (getpid() != owner_pid_) {
      thread_.detach();  // a fork child inherits this object but not its thread
    } else {
      JoinWatcherThread(thread_, exited_, tail_, head_);
      CountWatcherThread(-1);
    }
    close(event_fd_);
  }

  std::atomic<int32_t>* tail_ = nullptr;
  std::atomic<int32_t>* head_ = nullptr;
  std::atomic<int32_t>* readers_waiting_ = nullptr;
  std::atomic<int32_t>* writers_waiting_ = nullptr;
  std::shared_ptr<Mapping> mapping_;  // keeps the words mapped while the thread waits on them
  int event_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  pid_t owner_pid_ = 0;
};

}  // namespace

void InitRing(Napi::Env env, Napi::Object exports) {
  exports.Set("ringWait", Napi::Function::New(env, RingWait, "ringWait"));
  exports.Set("ringWake", Napi::Function::New(env, RingWake, "ringWake"));
  exports.Set("ringOwnerDied", Napi::Function::New(env, RingOwnerDied, "ringOwnerDied"));
  exports.Set("RingWatcher", RingWatcher::DefineWatcher(env, "RingWatcher"));
  exports.Set("RingReadable", RingReadable::Init(env));
}

}  // namespace mp
