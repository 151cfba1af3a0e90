"""What scikit-learn's estimator checks may fail for every aekit estimator, and why."""

# (check_methods_subset_invariance passes: inference pads its batches, so a row computed
# alone and within a batch has the same bits; tests/test_inference_batches.py.)
FLOAT32_XFAIL = {
    # Weighted rows and repeated rows give the same objective, but minibatch training draws
    # other batches from them, so the fitted networks differ (as any SGD-trained model's).
    "check_sample_weight_equivalence_on_dense_data": "minibatch training: equal objectives, "
    "different stochastic paths",
    "check_sample_weight_equivalence_on_sparse_data": "minibatch training: equal objectives, "
    "different stochastic paths",
}
