// What a run is and how it ended: enums that code compares, each with the one mapping to the
// text the database stores (and the CLI prints). Header-only: the store, training, reports and
// the GUI share it without linking each other.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace cp::store {

enum class Phase { phase1, phase2, evaluation };

// not_converged: Phase 1 ran all its iterations without reaching the convergence target; its
// ContextBlock is stored and usable, but the comparison says so.
enum class RunStatus { running, finished, not_converged, stopped, diverged, failed, interrupted };

namespace detail {
template <typename E>
struct KindName {
    E value;
    const char* key;
    const char* display;
};
inline constexpr KindName<Phase> kPhaseNames[] = {
    {Phase::phase1, "phase1", "Phase 1 (OACD)"},
    {Phase::phase2, "phase2", "Phase 2"},
    {Phase::evaluation, "evaluation", "Evaluation"},
};
inline constexpr KindName<RunStatus> kStatusNames[] = {
    {RunStatus::running, "running", "running"},
    {RunStatus::finished, "finished", "finished"},
    {RunStatus::not_converged, "not-converged", "finished, not converged"},
    {RunStatus::stopped, "stopped", "stopped"},
    {RunStatus::diverged, "diverged", "diverged"},
    {RunStatus::failed, "failed", "failed"},
    {RunStatus::interrupted, "interrupted", "interrupted"},
};
template <typename E, std::size_t N>
const char* key_of(const KindName<E> (&names)[N], E v, bool display) {
    for (const auto& n : names)
        if (n.value == v) return display ? n.display : n.key;
    return "?";
}
template <typename E, std::size_t N>
std::optional<E> from_key(const KindName<E> (&names)[N], std::string_view key) {
    for (const auto& n : names)
        if (key == n.key) return n.value;
    return std::nullopt;
}
}  // namespace detail

inline const char* phase_key(Phase p) {
    return detail::key_of(detail::kPhaseNames, p, false);
}
inline const char* phase_display_name(Phase p) {
    return detail::key_of(detail::kPhaseNames, p, true);
}
inline std::optional<Phase> phase_from_key(std::string_view k) {
    return detail::from_key(detail::kPhaseNames, k);
}
inline const char* status_key(RunStatus s) {
    return detail::key_of(detail::kStatusNames, s, false);
}
inline const char* status_display_name(RunStatus s) {
    return detail::key_of(detail::kStatusNames, s, true);
}
inline std::optional<RunStatus> status_from_key(std::string_view k) {
    return detail::from_key(detail::kStatusNames, k);
}

// A run whose weights can be used and compared: finished, or a Phase 1 that ran out of
// iterations (its block is trained, just not to the target).
inline bool completed(RunStatus s) {
    return s == RunStatus::finished || s == RunStatus::not_converged;
}

// Print the stored key (messages, logs, test failures).
inline std::ostream& operator<<(std::ostream& out, Phase p) {
    return out << phase_key(p);
}
inline std::ostream& operator<<(std::ostream& out, RunStatus s) {
    return out << status_key(s);
}

}  // namespace cp::store
