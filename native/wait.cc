// Futex waits on shared words, and Watcher: one thread per watched SemLock that parks in the
// kernel and wakes the JS event loop (through a thread-safe function) when a token may be free.
#include "wait.h"

#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include <chrono>
#include <climits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "errors.h"
#include "semlock.h"
#include "shm.h"

namespace mp {

void WaitOnWord(std::atomic<int32_t>* word, int32_t expected, double timeout_ms) {
#ifdef __linux__
  // Not FUTEX_PRIVATE: the word is in memory shared between processes.
  if (timeout_ms < 0) {
    syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
    return;
  }
  timespec relative;
  relative.tv_sec = static_cast<time_t>(timeout_ms / 1e3);
  relative.tv_nsec = static_cast<long>((timeout_ms - relative.tv_sec * 1e3) * 1e6);
  syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAIT, expected, &relative, nullptr, 0);
#else
  // No cross-process futex: poll, as CPython does where sem_timedwait is missing.
  if (word->load() != expected) return;
  double slice = timeout_ms < 0 || timeout_ms > 1 ? 1 : timeout_ms;
  timespec pause{0, static_cast<long>(slice * 1e6)};
  nanosleep(&pause, nullptr);
#endif
}

void WakeWord(std::atomic<int32_t>* word, int32_t count) {
#ifdef __linux__
  syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
#else
  (void)word;
  (void)count;
#endif
}

void JoinWatcherThread(std::thread& thread, const std::atomic<bool>& exited, std::atomic<int32_t>* word,
                       std::atomic<int32_t>* other_word) {
  while (!exited.load()) {
    WakeWord(word, INT_MAX);  // other sleepers re-check their condition and park again
    if (other_word != nullptr) WakeWord(other_word, INT_MAX);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  thread.join();
}

namespace {

constexpr double kOwnerCheckMs = 100;
std::atomic<int> live_watcher_threads{0};

// new Watcher(segment, offset, onReady): calls onReady on the JS thread each time, after arm(),
// the SemLock has a token (or a dead holder) to take. Idle watchers keep no event loop alive.
class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Watcher",
                       {InstanceMethod<&Watcher::Arm>("arm"), InstanceMethod<&Watcher::Idle>("idle"),
                        InstanceMethod<&Watcher::Close>("close")});
  }

  explicit Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watcher>(info) {
    Napi::Env env = info.Env();
    state_ = StateArg(info, 0);
    mapping_ = Segment::From(info[0])->mapping();
    if (!info[2].IsFunction()) ThrowType(env, "Watcher callback must be a function");
    // At environment teardown Node may finalize the function before this object: Stop() must then
    // leave it alone, so the function's finalizer tells us.
    std::shared_ptr<std::atomic<bool>> finalized = finalized_;
    ready_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "mpjs-semlock-watch", 0, 1,
                                           [finalized](Napi::Env) { finalized->store(true); });
    ready_.Unref(env);
    owner_pid_ = getpid();
    thread_ = std::thread([this] { Run(); });
    CountWatcherThread(1);
  }

  ~Watcher() override { Stop(); }

 private:
  void Run() {
    RunUntilStopped();
    exited_.store(true);
  }

  void RunUntilStopped() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      armed_cv_.wait(lock, [this] { return armed_ || stopping_.load(); });
      if (stopping_) return;
      armed_ = false;
      lock.unlock();
      while (!stopping_ && state_->value.load() <= 0 && !OwnerDied(state_)) {
        state_->sleepers.fetch_add(1);
        WaitOnWord(&state_->value, 0, state_->maxvalue == 1 ? kOwnerCheckMs : -1);
        state_->sleepers.fetch_sub(1);
      }
      if (stopping_) return;
      ready_.NonBlockingCall();
      lock.lock();
    }
  }

  Napi::Value Arm(const Napi::CallbackInfo& info) {
    if (stopping_) throw Napi::Error::New(info.Env(), "Watcher is closed");
    ready_.Ref(info.Env());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      armed_ = true;
    }
    armed_cv_.notify_one();
    return info.Env().Undefined();
  }

  Napi::Value Idle(const Napi::CallbackInfo& info) {
    if (!stopping_) ready_.Unref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (getpid() != owner_pid_) {
      // A fork child inherits this object but not its thread: nothing to wake or join, and the
      // thread-safe function belongs to the parent's loop.
      thread_.detach();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
    }
    armed_cv_.notify_one();
    JoinWatcherThread(thread_, exited_, &state_->value);
    CountWatcherThread(-1);
    if (!finalized_->load()) ready_.Release();
  }

  SemLockState* state_ = nullptr;
  std::shared_ptr<Mapping> mapping_;  // keeps the word mapped while the thread waits on it
  Napi::ThreadSafeFunction ready_;
  std::shared_ptr<std::atomic<bool>> finalized_ = std::make_shared<std::atomic<bool>>(false);
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable armed_cv_;
  bool armed_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  pid_t owner_pid_ = 0;
};

}  // namespace

int LiveWatcherThreads() { return live_watcher_threads.load(); }
void CountWatcherThread(int delta) { live_watcher_threads.fetch_add(delta); }

void InitWait(Napi::Env env, Napi::Object exports) { exports.Set("Watcher", Watcher::Init(env)); }

}  // namespace mp
