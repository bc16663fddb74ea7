// Where this process stands in a data-parallel job, read from the environment the launchers set:
// torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, or Slurm's srun
// SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID with the master on the first host of
// SLURM_JOB_NODELIST (MASTER_PORT, or a port derived from the job id). Torch-free: the CLI checks
// it before any work; train/distributed.h joins the process group.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cp::train {

struct DistributedEnv {
    std::int64_t rank = 0, world_size = 1, local_rank = 0;
    std::string master_addr = "127.0.0.1";
    std::int64_t master_port = 29500;
    std::string launcher;  // "torchrun", "srun" or "" for a single process
    bool distributed() const { return world_size > 1; }
    std::string describe() const;  // "rank 1 of 2 (torchrun, master 127.0.0.1:29500)"
};

// Reads the variables through `get` (std::getenv in the CLI; a map in tests). Throws cp::Error
// naming the variable that is missing or malformed (a rank outside 0..WORLD_SIZE-1, say).
DistributedEnv read_distributed_env(const std::function<std::optional<std::string>(const std::string&)>& get);
DistributedEnv distributed_env_from_process();

// The first host of a Slurm node list: "node[03-05,07],gpu1" -> "node03".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace cp::train
