// The fork child's V8 platform (child_platform.h): a task queue and the threads that drain it.
#include "child_platform.h"

#include <dlfcn.h>
#include <libplatform/libplatform.h>
#include <v8-version.h>

#if V8_MAJOR_VERSION < 12
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#endif

namespace mp {

#if V8_MAJOR_VERSION < 12

namespace {

class ChildPlatform final : public v8::Platform {
 public:
  ChildPlatform(v8::Platform* node, int max_threads) : node_(node), max_threads_(max_threads < 1 ? 1 : max_threads) {}

  int StartedThreads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return started_;
  }

  bool Pause(double timeout_ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    paused_ = true;
    return idle_.wait_for(lock, std::chrono::microseconds(static_cast<int64_t>(timeout_ms * 1000)), [this] { return running_ == 0; });
  }

  void Resume() {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
    work_.notify_all();
  }

  int NumberOfWorkerThreads() override { return max_threads_; }
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override { Post(std::move(task), 0); }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delay_in_seconds) override { Post(std::move(task), delay_in_seconds); }
  std::unique_ptr<v8::JobHandle> CreateJob(v8::TaskPriority priority, std::unique_ptr<v8::JobTask> job_task) override {
    return v8::platform::NewDefaultJobHandle(this, priority, std::move(job_task), static_cast<size_t>(max_threads_));
  }

  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate) override { return node_->GetForegroundTaskRunner(isolate); }
  v8::PageAllocator* GetPageAllocator() override { return node_->GetPageAllocator(); }
  v8::ZoneBackingAllocator* GetZoneBackingAllocator() override { return node_->GetZoneBackingAllocator(); }
  void OnCriticalMemoryPressure() override { node_->OnCriticalMemoryPressure(); }
  bool IdleTasksEnabled(v8::Isolate* isolate) override { return node_->IdleTasksEnabled(isolate); }
  std::unique_ptr<v8::ScopedBlockingCall> CreateBlockingScope(v8::BlockingType type) override { return node_->CreateBlockingScope(type); }
  double MonotonicallyIncreasingTime() override { return node_->MonotonicallyIncreasingTime(); }
  int64_t CurrentClockTimeMilliseconds() override { return node_->CurrentClockTimeMilliseconds(); }
  double CurrentClockTimeMillis() override { return node_->CurrentClockTimeMillis(); }
  double CurrentClockTimeMillisecondsHighResolution() override { return node_->CurrentClockTimeMillisecondsHighResolution(); }
  StackTracePrinter GetStackTracePrinter() override { return node_->GetStackTracePrinter(); }
  v8::TracingController* GetTracingController() override { return node_->GetTracingController(); }
  void DumpWithoutCrashing() override { node_->DumpWithoutCrashing(); }
  v8::HighAllocationThroughputObserver* GetHighAllocationThroughputObserver() override { return node_->GetHighAllocationThroughputObserver(); }

 private:
  using Clock = std::chrono::steady_clock;

  void Post(std::unique_ptr<v8::Task> task, double delay_in_seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (delay_in_seconds > 0)
      delayed_.emplace(Clock::now() + std::chrono::microseconds(static_cast<int64_t>(delay_in_seconds * 1e6)), std::move(task));
    else
      queue_.push_back(std::move(task));
    // A thread more only when none waits: a child that compiles a few functions starts one.
    if (waiting_ == 0 && started_ < max_threads_) {
      started_++;
      std::thread([this] { Work(); }).detach();
    } else {
      work_.notify_one();
    }
  }

  void Work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (!paused_) {
        while (!delayed_.empty() && delayed_.begin()->first <= Clock::now()) {
          queue_.push_back(std::move(delayed_.begin()->second));
          delayed_.erase(delayed_.begin());
        }
        if (!queue_.empty()) {
          std::unique_ptr<v8::Task> task = std::move(queue_.front());
          queue_.pop_front();
          running_++;
          lock.unlock();
          task->Run();
          task.reset();
          lock.lock();
          if (--running_ == 0) idle_.notify_all();
          continue;
        }
      }
      waiting_++;
      if (!paused_ && !delayed_.empty())
        work_.wait_until(lock, delayed_.begin()->first);
      else
        work_.wait(lock);
      waiting_--;
    }
  }

  v8::Platform* const node_;
  const int max_threads_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<std::unique_ptr<v8::Task>> queue_;
  std::multimap<Clock::time_point, std::unique_ptr<v8::Task>> delayed_;
  int started_ = 0;
  int waiting_ = 0;
  int running_ = 0;
  bool paused_ = false;
};

ChildPlatform* installed = nullptr;

}  // namespace

void InstallChildPlatform(v8::Platform* node, int max_threads) {
  // v8::internal::V8::SetPlatformForTesting, exported by Node's binary: V8 reads its platform
  // through that pointer each time it posts a worker task or makes a job.
  using SetPlatform = void (*)(v8::Platform*);
  auto set_platform = reinterpret_cast<SetPlatform>(dlsym(RTLD_DEFAULT, "_ZN2v88internal2V821SetPlatformForTestingEPNS_8PlatformE"));
  if (set_platform == nullptr || node == nullptr || max_threads <= 0) return;
  installed = new ChildPlatform(node, max_threads);
  set_platform(installed);
}

bool PauseChildPlatform(double timeout_ms) { return installed == nullptr || installed->Pause(timeout_ms); }
void ResumeChildPlatform() {
  if (installed != nullptr) installed->Resume();
}
int ChildPlatformThreads() { return installed == nullptr ? 0 : installed->StartedThreads(); }

#else

void InstallChildPlatform(v8::Platform*, int) {}
bool PauseChildPlatform(double) { return true; }
void ResumeChildPlatform() {}
int ChildPlatformThreads() { return 0; }

#endif

}  // namespace mp
