// Data-parallel training on PyTorch's distributed runtime (c10d): one process per rank, joined
// through a TCPStore on the master and a Gloo process group (NCCL where a CUDA build has it). Each
// rank takes its share of every global batch; gradients are summed with all-reduce in buckets, so
// W ranks step exactly as one process with the same global batch would (up to the order of
// float sums). A rank that dies or hangs ends the others within the timeout with an error that
// names it (every rank beats a heartbeat in the store; the silent one is named).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "experiment/distributed_env.h"

namespace c10d {
class Store;
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace cp::train {

class ProcessGroup {
  public:
    // Joins the job's process group (rank 0 hosts the store); throws cp::Error naming the master
    // and the way out when it cannot. `cuda`: the tensors live on cuda:LOCAL_RANK, and a build
    // with NCCL (CP_WITH_NCCL: a CUDA libtorch that has it) all-reduces through NCCL; otherwise
    // Gloo, which takes CPU and CUDA tensors alike.
    ProcessGroup(const DistributedEnv& env, std::chrono::seconds timeout, bool cuda = false);
    ~ProcessGroup();
    ProcessGroup(const ProcessGroup&) = delete;
    ProcessGroup& operator=(const ProcessGroup&) = delete;

    std::int64_t rank() const { return env_.rank; }
    std::int64_t world_size() const { return env_.world_size; }
    const DistributedEnv& env() const { return env_; }

    // Sums the tensors over the ranks, in place, in buckets of at most `bucket_bytes`: one
    // collective per bucket, not per tensor.
    void allreduce_sum(const std::vector<torch::Tensor>& tensors,
                       std::int64_t bucket_bytes = 16 << 20);
    void barrier();
    // Rank 0's values of the tensors, on every rank (the starting weights).
    void broadcast_from_rank0(const std::vector<torch::Tensor>& tensors);
    // This rank's rows of `n`: [begin, end), the shares as even as n allows.
    std::pair<std::int64_t, std::int64_t> shard(std::int64_t n) const;

  private:
#if TORCH_VERSION_MAJOR >= 2
    using Collectives = c10d::Backend;
#else
    using Collectives = c10d::ProcessGroup;
#endif
    c10::intrusive_ptr<Collectives> collectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                bool cuda) const;
    // The error of a failed collective, naming the ranks whose heartbeat stopped.
    [[noreturn]] void failed(const std::string& what, const std::exception& e);
    void beat();

    DistributedEnv env_;
    std::chrono::seconds timeout_;
    std::shared_ptr<c10d::Store> store_;
    std::shared_ptr<Collectives> group_;  // a ProcessGroup in libtorch 1.x; Gloo and NCCL are Backends from 2.0
    std::atomic<bool> beating_{true};
    std::thread heartbeat_;
};

// Joins the process group of `env` (the CLI's `run` when launched by torchrun or srun): the
// group the experiment is given to train in; null for a single process.
std::unique_ptr<ProcessGroup> join_process_group(const DistributedEnv& env,
                                                 std::chrono::seconds timeout, bool cuda = false);

}  // namespace cp::train
