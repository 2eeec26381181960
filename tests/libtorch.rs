//! libtorch is provisioned, linked and found at run time without any environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn libtorch_runs_a_tensor_operation() {
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.5]);
    let sum = t.f_sum(tch::Kind::Float).unwrap().double_value(&[]);
    assert!((sum - 6.5).abs() < 1e-6, "sum {sum}");
}

#[test]
fn cuda_absent_is_reported_cleanly() {
    // On CPU machines this is false; on a CUDA build with a GPU it is true. Either way no crash.
    let devices = tch::Cuda::device_count();
    assert_eq!(tch::Cuda::is_available(), devices > 0);
}
