// The V8 platform of a fork child: Node's own for everything but worker tasks and jobs, which run
// on threads the child starts when it first needs them. A fork child has none of its parent's
// platform threads, so without this concurrent TurboFan jobs queued there never ran and hot code
// stayed in the baseline tier (4–5× slower); concurrent GC jobs ran only when the main thread
// joined them. Built per Node ABI with park.cc.
#pragma once
#include <v8-platform.h>
#include <v8-version.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

namespace mp {

class ChildPlatform final : public v8::Platform {
 public:
  ChildPlatform(v8::Platform* node, int max_threads) : node_(node), max_threads_(max_threads < 1 ? 1 : max_threads) {}

  // Threads started so far (the fork thread audit counts them).
  int StartedThreads();
  // Before a fork of this child: no thread of ours runs a task (none holds a V8 lock) once this
  // returns true; false when a task did not finish in time. Resume() lets them go on.
  bool Pause(double timeout_ms);
  void Resume();

  int NumberOfWorkerThreads() override { return max_threads_; }

#if V8_MAJOR_VERSION >= 12
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate, v8::TaskPriority priority) override {
    return node_->GetForegroundTaskRunner(isolate, priority);
  }
  v8::ThreadIsolatedAllocator* GetThreadIsolatedAllocator() override { return node_->GetThreadIsolatedAllocator(); }
#else
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate) override { return node_->GetForegroundTaskRunner(isolate); }
#endif
#if V8_MAJOR_VERSION < 13
  v8::ZoneBackingAllocator* GetZoneBackingAllocator() override { return node_->GetZoneBackingAllocator(); }
#endif

  v8::PageAllocator* GetPageAllocator() override { return node_->GetPageAllocator(); }
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

 protected:
#if V8_MAJOR_VERSION >= 12
  void PostTaskOnWorkerThreadImpl(v8::TaskPriority, std::unique_ptr<v8::Task> task, const v8::SourceLocation&) override { Post(std::move(task), 0); }
  void PostDelayedTaskOnWorkerThreadImpl(v8::TaskPriority, std::unique_ptr<v8::Task> task, double delay_in_seconds, const v8::SourceLocation&) override {
    Post(std::move(task), delay_in_seconds);
  }
  std::unique_ptr<v8::JobHandle> CreateJobImpl(v8::TaskPriority priority, std::unique_ptr<v8::JobTask> job_task, const v8::SourceLocation&) override {
    return NewJob(priority, std::move(job_task));
  }
#else

 public:
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override { Post(std::move(task), 0); }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delay_in_seconds) override { Post(std::move(task), delay_in_seconds); }
  std::unique_ptr<v8::JobHandle> CreateJob(v8::TaskPriority priority, std::unique_ptr<v8::JobTask> job_task) override {
    return NewJob(priority, std::move(job_task));
  }
#endif

 private:
  using Clock = std::chrono::steady_clock;

  void Post(std::unique_ptr<v8::Task> task, double delay_in_seconds);
  std::unique_ptr<v8::JobHandle> NewJob(v8::TaskPriority priority, std::unique_ptr<v8::JobTask> job_task);
  void Work();

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

}  // namespace mp
