// OACD loss, convergence rate, effective rank and cosine against values computed by hand.
#include <gtest/gtest.h>

#include "train/context_measures.h"

using namespace cp::train;

TEST(ContextMetrics, OacdLossMatchesHandComputedValues) {
    // X = [[1, 2], [3, 4], [5, 0]]: mean = [3, 2]; X - mean = [[-2, 0], [0, 2], [2, -2]];
    // ||X - mean||_F = sqrt(4 + 4 + 4 + 4) = 4; dispersion = -4 / 3; centroid = 9 + 4 = 13.
    const torch::Tensor x =
        torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 0.0}, torch::kFloat64).view({3, 2});
    const OacdLoss l = oacd_loss(x, 0.1);
    EXPECT_NEAR(l.dispersion.item<double>(), -4.0 / 3.0, 1e-12);
    EXPECT_NEAR(l.centroid.item<double>(), 13.0, 1e-12);
    EXPECT_NEAR(l.loss.item<double>(), -4.0 / 3.0 + 1.3, 1e-12);
}

TEST(ContextMetrics, OacdGradientPushesContextsApartAndTheCentroidToZero) {
    torch::Tensor x =
        torch::tensor({1.0, 1.0, 1.2, 1.0}, torch::kFloat64).view({2, 2}).requires_grad_(true);
    oacd_loss(x, 0.1).loss.backward();
    // Rows 0 and 1 differ in column 0: descent (minus the gradient) moves them apart there.
    EXPECT_GT(x.grad()[0][0].item<double>(), x.grad()[1][0].item<double>());
    // Both rows sit at +1 in column 1: the centroid term pulls them down (positive gradient).
    EXPECT_GT(x.grad()[0][1].item<double>(), 0.0);
}

TEST(ContextMetrics, ConvergenceRateCountsRowsBelowTheThreshold) {
    const torch::Tensor prev = torch::zeros({4, 2}, torch::kFloat64);
    // Mean squared change per row: 0.01, 0.02, 0.05, 1.0 -> two of four below 0.03.
    const torch::Tensor cur =
        torch::tensor({0.1, 0.1, 0.2, 0.0, 0.3, 0.1, 1.0, 1.0}, torch::kFloat64).view({4, 2});
    EXPECT_DOUBLE_EQ(convergence_rate(cur, prev, 0.03), 0.5);
}

TEST(ContextMetrics, EffectiveRankOfIdentityIsItsSizeAndOfRankOneIsOne) {
    EXPECT_NEAR(effective_rank(torch::eye(5, torch::kFloat64)), 5.0, 1e-9);
    const torch::Tensor rank_one = torch::ones({6, 4}, torch::kFloat64);
    EXPECT_NEAR(effective_rank(rank_one), 1.0, 1e-6);
    // Singular values 3 and 1: p = (0.75, 0.25), H = -(0.75 ln 0.75 + 0.25 ln 0.25).
    const torch::Tensor diag = torch::tensor({3.0, 0.0, 0.0, 1.0}, torch::kFloat64).view({2, 2});
    EXPECT_NEAR(effective_rank(diag), std::exp(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25))),
                1e-9);
}

TEST(ContextMetrics, MeanPairwiseCosineAndDispersion) {
    EXPECT_NEAR(mean_pairwise_cosine(torch::eye(3, torch::kFloat64)), 0.0, 1e-12);
    EXPECT_NEAR(mean_pairwise_cosine(torch::ones({3, 2}, torch::kFloat64)), 1.0, 1e-12);
    // Rows (0,0) and (2,0): centroid (1,0), distances 1 and 1.
    EXPECT_NEAR(dispersion(torch::tensor({0.0, 0.0, 2.0, 0.0}, torch::kFloat64).view({2, 2})), 1.0,
                1e-12);
}
