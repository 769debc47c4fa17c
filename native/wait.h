// Waiting on a 32-bit word in shared memory: futex on Linux (polling elsewhere), blocking with
// a CLOCK_MONOTONIC deadline, and the Watcher that serves async waits from one dedicated thread
// per watched word, so no libuv threadpool thread is ever parked.
#pragma once
#include <napi.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "deadline.h"
#include "shm.h"

namespace mp {

// The pause a spin loop makes between looks at shared memory.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Parks while *word == expected, for at most `timeout_ms` (< 0: no limit). Returns on wake,
// timeout, EINTR or a changed word alike: callers re-check their condition.
void WaitOnWord(std::atomic<int32_t>* word, int32_t expected, double timeout_ms);
void WakeWord(std::atomic<int32_t>* word, int32_t count);

// WaitOnWord counted in `sleepers`: the count goes up before the futex re-checks the word, so a
// waker that changes the word and then reads a zero count cannot have missed this sleeper.
inline void ParkCounted(std::atomic<int32_t>* word, int32_t expected, std::atomic<int32_t>* sleepers, double timeout_ms) {
  sleepers->fetch_add(1);
  WaitOnWord(word, expected, timeout_ms);
  sleepers->fetch_sub(1);
}

// Watcher threads running in this process (SemLock and ring watchers): known threads for fork's
// audit of unexplained ones. Watchers count themselves in and out.
int LiveWatcherThreads();
void CountWatcherThread(int delta);

// Joins a watcher thread that may be parked on `word` after its owner set its stop flag. A wake
// sent between the thread's last look at that flag and its futex call is lost, so this wakes the
// word until the thread says it has left its loop (`exited`).
void JoinWatcherThread(std::thread& thread, const std::atomic<bool>& exited, std::atomic<int32_t>* word,
                       std::atomic<int32_t>* other_word = nullptr);

// What every async watcher shares (SemLock Watcher, RingWatcher): one dedicated thread that, after
// arm([expected]) from JS, waits in Derived::WaitUntilReady(expected) and then calls the callback on
// the JS thread; idle watchers keep no event loop alive; close() (or GC) stops and joins it once.
// Derived::WaitUntilReady must return when stopping() turns true (it is woken on `word`).
template <typename Derived>
class WatcherThread : public Napi::ObjectWrap<Derived> {
 public:
  static Napi::Function DefineWatcher(Napi::Env env, const char* name) {
    using Method = typename Napi::ObjectWrap<Derived>::InstanceMethodCallback;
    return Napi::ObjectWrap<Derived>::DefineClass(
        env, name,
        {Napi::ObjectWrap<Derived>::InstanceMethod("arm", static_cast<Method>(&WatcherThread::Arm)),
         Napi::ObjectWrap<Derived>::InstanceMethod("idle", static_cast<Method>(&WatcherThread::Idle)),
         Napi::ObjectWrap<Derived>::InstanceMethod("close", static_cast<Method>(&WatcherThread::Close))});
  }

  ~WatcherThread() override { Stop(); }

 protected:
  // `word` is what the thread parks on (woken to stop it); `segment` keeps it mapped meanwhile.
  WatcherThread(const Napi::CallbackInfo& info, size_t callback_index, const char* name,
                std::atomic<int32_t>* word, std::shared_ptr<Mapping> segment)
      : Napi::ObjectWrap<Derived>(info), word_(word), mapping_(std::move(segment)) {
    Napi::Env env = info.Env();
    if (!info[callback_index].IsFunction()) throw Napi::TypeError::New(env, std::string(name) + " callback must be a function");
    // At environment teardown Node may finalize the function before this object: Stop() must then
    // leave it alone, so the function's finalizer tells us.
    std::shared_ptr<std::atomic<bool>> finalized = finalized_;
    ready_ = Napi::ThreadSafeFunction::New(env, info[callback_index].As<Napi::Function>(), name, 0, 1,
                                           [finalized](Napi::Env) { finalized->store(true); });
    ready_.Unref(env);
    owner_pid_ = getpid();
    thread_ = std::thread([this] {
      RunUntilStopped();
      exited_.store(true);
    });
    CountWatcherThread(1);
  }

  bool stopping() const { return stopping_.load(); }

 private:
  void RunUntilStopped() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      armed_cv_.wait(lock, [this] { return armed_ || stopping_.load(); });
      if (stopping_) return;
      armed_ = false;
      const int32_t expected = expected_;
      lock.unlock();
      static_cast<Derived*>(this)->WaitUntilReady(expected);
      if (stopping_) return;
      ready_.NonBlockingCall();
      lock.lock();
    }
  }

  Napi::Value Arm(const Napi::CallbackInfo& info) {
    if (stopping_) throw Napi::Error::New(info.Env(), "the watcher is closed");
    const int32_t expected = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    ready_.Ref(info.Env());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      expected_ = expected;
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
    JoinWatcherThread(thread_, exited_, word_);
    CountWatcherThread(-1);
    if (!finalized_->load()) ready_.Release();
  }

  std::atomic<int32_t>* word_;
  std::shared_ptr<Mapping> mapping_;
  Napi::ThreadSafeFunction ready_;
  std::shared_ptr<std::atomic<bool>> finalized_ = std::make_shared<std::atomic<bool>>(false);
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable armed_cv_;
  bool armed_ = false;
  int32_t expected_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  pid_t owner_pid_ = 0;
};

void InitWait(Napi::Env env, Napi::Object exports);

}  // namespace mp
