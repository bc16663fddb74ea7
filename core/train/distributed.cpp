#include "train/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(CP_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <map>

#include "common/error.h"

namespace cp::train {
namespace {

std::string heartbeat_key(std::int64_t rank) {
    return "cp/heartbeat/" + std::to_string(rank);
}

// Where this rank's Gloo pairs listen, as PyTorch chooses: the interface GLOO_SOCKET_IFNAME
// names; on one host (a loopback master) the master's address; otherwise the address this
// host's own name resolves to. The master's address would not exist on another node.
std::shared_ptr<::gloo::transport::Device> gloo_device(const DistributedEnv& env) {
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
        return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
    const bool loopback = env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0;
    if (loopback) return c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr);
    return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

std::unique_ptr<ProcessGroup> join_process_group(const DistributedEnv& env,
                                                 std::chrono::seconds timeout, bool cuda) {
    if (!env.distributed()) return nullptr;
    return std::make_unique<ProcessGroup>(env, timeout, cuda);
}

// The collectives over `store`: NCCL for CUDA tensors where the build has it (UNTESTED here: no
// GPU was lent; blocking waits so that a dead rank times out instead of hanging), else Gloo.
c10::intrusive_ptr<ProcessGroup::Collectives> ProcessGroup::collectives(
    const c10::intrusive_ptr<c10d::Store>& store, bool cuda) const {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_);
    const int rank = static_cast<int>(env_.rank), size = static_cast<int>(env_.world_size);
#if defined(CP_WITH_NCCL)
    if (cuda) {
        ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
        ::setenv("NCCL_BLOCKING_WAIT", "1", 0);  // its name before PyTorch 2.2
        auto options = c10d::ProcessGroupNCCL::Options::create();
        options->timeout = ms;
        return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
    }
#else
    (void)cuda;
#endif
    auto options = c10d::ProcessGroupGloo::Options::create(ms);
    options->devices.push_back(gloo_device(env_));
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
}

ProcessGroup::ProcessGroup(const DistributedEnv& env, std::chrono::seconds timeout, bool cuda)
    : env_(env), timeout_(timeout) {
    try {
        c10d::TCPStoreOptions o;
        o.port = static_cast<std::uint16_t>(env.master_port);
        o.isServer = env.rank == 0;
        o.numWorkers = static_cast<std::size_t>(env.world_size);
        o.waitWorkers = true;
        o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
        // libtorch 2.4 made libuv the store's default backend; builds without libuv (Debian's)
        // refuse it, and the classic backend serves a handful of ranks as well.
        o.useLibUV = false;
#endif
        auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
        c10::intrusive_ptr<c10d::Store> as_store = store;
        auto group = collectives(as_store, cuda);
        // Keep them as shared_ptr-held intrusive objects for the life of the group.
        store_ = std::shared_ptr<c10d::Store>(store.release(), [](c10d::Store* s) {
            c10::raw::intrusive_ptr::decref(s);
        });
        group_ = std::shared_ptr<Collectives>(group.release(), [](Collectives* g) {
            c10::raw::intrusive_ptr::decref(g);
        });
    } catch (const std::exception& e) {
        throw Error("cannot join the distributed job as " + env.describe() + ": " +
                    std::string(e.what()).substr(0, 400) +
                    " (is the master reachable, the port free, every rank started?)");
    }
    store_->set(heartbeat_key(env_.rank), std::vector<std::uint8_t>{0});
    heartbeat_ = std::thread([this] { beat(); });
}

ProcessGroup::~ProcessGroup() {
    beating_.store(false);
    if (heartbeat_.joinable()) heartbeat_.join();
}

void ProcessGroup::beat() {
    std::uint8_t count = 0;
    while (beating_.load()) {
        try {
            store_->set(heartbeat_key(env_.rank), std::vector<std::uint8_t>{++count});
        } catch (const std::exception&) {
            // The store's host is gone: collectives will say so.
        }
        for (int i = 0; i < 5 && beating_.load(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

void ProcessGroup::failed(const std::string& what, const std::exception& e) {
    // Which ranks have stopped beating? Read every heartbeat twice, a second and a half apart.
    std::vector<std::int64_t> silent;
    try {
        std::map<std::int64_t, std::vector<std::uint8_t>> first;
        for (std::int64_t r = 0; r < env_.world_size; ++r)
            if (r != env_.rank) first[r] = store_->get(heartbeat_key(r));
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        for (const auto& [r, value] : first)
            if (store_->get(heartbeat_key(r)) == value) silent.push_back(r);
    } catch (const std::exception&) {
        silent = {0};  // the store itself is unreachable: its host, rank 0, is gone
    }
    std::string who;
    for (std::int64_t r : silent) who += (who.empty() ? "" : ", ") + std::to_string(r);
    throw Error("distributed " + what + " failed on rank " + std::to_string(env_.rank) + " of " +
                std::to_string(env_.world_size) + ": " +
                (silent.empty() ? std::string("a rank did not answer within ") +
                                      std::to_string(timeout_.count()) + " s"
                                : "rank " + who + " stopped (its heartbeat stopped)") +
                " — the job ends; restart it (a finished run is kept). Detail: " +
                std::string(e.what()).substr(0, 300));
}

void ProcessGroup::allreduce_sum(const std::vector<torch::Tensor>& tensors,
                                 std::int64_t bucket_bytes) {
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    while (i < tensors.size()) {
        // A bucket of consecutive tensors of one dtype, flattened into one buffer.
        std::vector<torch::Tensor> bucket;
        std::int64_t bytes = 0;
        const auto dtype = tensors[i].scalar_type();
        while (i < tensors.size() && tensors[i].scalar_type() == dtype &&
               (bucket.empty() || bytes + static_cast<std::int64_t>(tensors[i].nbytes()) <= bucket_bytes)) {
            bytes += static_cast<std::int64_t>(tensors[i].nbytes());
            bucket.push_back(tensors[i++]);
        }
        std::vector<torch::Tensor> flat;
        for (const torch::Tensor& t : bucket) flat.push_back(t.reshape({-1}));
        std::vector<torch::Tensor> buffer = {torch::cat(flat)};
        try {
            group_->allreduce(buffer)->wait(std::chrono::duration_cast<std::chrono::milliseconds>(timeout_));
        } catch (const std::exception& e) {
            failed("all-reduce", e);
        }
        std::int64_t at = 0;
        for (const torch::Tensor& t : bucket) {
            t.copy_(buffer[0].narrow(0, at, t.numel()).view_as(t));
            at += t.numel();
        }
    }
}

void ProcessGroup::barrier() {
    std::vector<torch::Tensor> one = {torch::zeros({1})};
    allreduce_sum(one);
}

void ProcessGroup::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors) {
    torch::NoGradGuard no_grad;
    // Rank 0's values summed with zeros elsewhere: a broadcast through the one collective.
    std::vector<torch::Tensor> copies;
    for (const torch::Tensor& t : tensors)
        copies.push_back(env_.rank == 0 ? t.detach().clone() : torch::zeros_like(t));
    allreduce_sum(copies);
    for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].copy_(copies[i]);
}

std::pair<std::int64_t, std::int64_t> ProcessGroup::shard(std::int64_t n) const {
    const std::int64_t begin = n * env_.rank / env_.world_size;
    const std::int64_t end = n * (env_.rank + 1) / env_.world_size;
    return {begin, end};
}

}  // namespace cp::train
