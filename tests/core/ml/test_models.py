"""The classifiers: PointNet++ SSG against the naive reference, shapes, determinism, learning."""

from __future__ import annotations

import pytest
import torch

from mer_viewer.core.ml.models import MODEL_NAMES, build
from mer_viewer.core.ml.models.pointnet2 import PointNet2

from . import naive_pointnet2 as naive

VARIANTS = [("pointnet2", {}), ("pointnet2", {"variant": "msg"}), ("pointnet", {}),
            ("pointnet", {"input_transform": True, "feature_transform": True}), ("dgcnn", {})]


pytestmark = pytest.mark.usefixtures("one_thread")


def clouds(batch, count, seed, channels=6, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    points = torch.rand(batch, count, channels, generator=generator, dtype=dtype)
    points[..., :3] = points[..., :3] * 2 - 1
    return points


def paired_models(num_classes=5, dtype=torch.float32, seed=0):
    """The reference and ours with the reference's (random) weights and running statistics."""
    torch.manual_seed(seed)
    reference = naive.get_model(num_classes, normal_channel=True).to(dtype)
    ours = PointNet2(num_classes, deterministic=True).to(dtype)
    # Non-trivial running statistics, so eval-mode BatchNorm folding is really tested.
    for module in reference.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(-1.5, 1.5)  # negative scales too
            module.bias.data.uniform_(-0.2, 0.2)
    naive.load_into_ours(reference, ours)
    return reference, ours


def reference_log_probs(reference, points):
    start = torch.zeros(points.shape[0], dtype=torch.long)
    naive.fix_fps_start(reference, start)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(points.dtype)  # the reference allocates FPS distances in the default dtype
    try:
        return reference(points.transpose(1, 2))[0]
    finally:
        torch.set_default_dtype(previous)


def without_dropout(*models):
    for model in models:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0


def test_registry_lists_the_three_models_and_rejects_others():
    assert MODEL_NAMES == ("pointnet2", "pointnet", "dgcnn")
    with pytest.raises(ValueError, match="unknown model 'kpconv'"):
        build("kpconv", 3)
    with pytest.raises(ValueError, match="variant"):
        build("pointnet2", 3, variant="xyz")


def test_pointnet2_ssg_equals_the_reference_in_eval():
    reference, ours = paired_models()
    reference.eval(), ours.eval()
    points = clouds(3, 1024, 1)
    with torch.no_grad():
        expected = reference_log_probs(reference, points)
        got = torch.log_softmax(ours(points), -1)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)


def test_pointnet2_ssg_equals_the_reference_in_training_with_gradients():
    # float64, so that only a difference in the algorithm (grouping, centring,
    # batch statistics, the fused first layer, backward) could show.
    reference, ours = paired_models(dtype=torch.float64)
    without_dropout(reference, ours)
    reference.train(), ours.train()
    points = clouds(4, 600, 2, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 4])
    expected = reference_log_probs(reference, points)
    got = torch.log_softmax(ours(points), -1)
    assert torch.allclose(got, expected, atol=1e-10, rtol=0)
    torch.nn.functional.nll_loss(expected, labels).backward()
    torch.nn.functional.nll_loss(got, labels).backward()
    grads = {name: p.grad for name, p in ours.named_parameters()}
    reference_grads = PointNet2(5).double()
    naive.load_into_ours(_grads_as_weights(reference), reference_grads)
    for name, expected_grad in reference_grads.named_parameters():
        assert torch.allclose(grads[name], expected_grad, atol=1e-9, rtol=1e-7), name
    # Running statistics moved alike.
    assert torch.allclose(ours.levels[0].branches[0].mlp.norms[0].running_mean,
                          reference.sa1.mlp_bns[0].running_mean, atol=1e-12)


def _grads_as_weights(reference):
    """A reference model whose parameters are the gradients of ``reference`` (to reuse the weight mapping)."""
    copy = naive.get_model(reference.fc3.out_features).double()
    with torch.no_grad():
        for (_, target), (_, source) in zip(copy.named_parameters(), reference.named_parameters()):
            target.copy_(source.grad)
    return copy


def test_pointnet2_float32_training_forward_is_close_to_the_reference():
    # Looser than eval: PyTorch's channels-last BatchNorm sums batch statistics
    # in float32 row by row, the reference's channels-first one pairwise.
    reference, ours = paired_models()
    without_dropout(reference, ours)
    points = clouds(6, 512, 3)
    expected = reference_log_probs(reference, points)
    got = torch.log_softmax(ours(points), -1)
    assert torch.allclose(got, expected, atol=2e-3, rtol=0)


@pytest.mark.parametrize(("name", "options"), VARIANTS)
@pytest.mark.parametrize("channels", [6, 3])
def test_output_shapes(name, options, channels):
    model = build(name, 4, in_channels=channels, **options)
    logits = model(clouds(2, 160, 0, channels))
    assert logits.shape == (2, 4) and logits.dtype == torch.float32
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(("name", "options"), VARIANTS)
def test_eval_forward_is_deterministic(name, options):
    model = build(name, 3, **options).eval()
    points = clouds(2, 200, 5)
    with torch.no_grad():
        assert torch.equal(model(points), model(points))


def test_pointnet2_random_fps_start_in_training_follows_the_generator():
    generator = torch.Generator()
    model = build("pointnet2", 3, generator=generator)
    without_dropout(model)
    points = clouds(2, 300, 6)
    outputs = []
    for seed in (1, 1, 2):
        generator.manual_seed(seed)
        outputs.append(model(points).detach())
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.allclose(outputs[0], outputs[2])
    model.deterministic = True
    assert torch.equal(model(points), model(points))


def test_pointnet_feature_transform_penalty():
    plain = build("pointnet", 3)
    plain(clouds(2, 50, 0))
    assert plain.regularization_loss().item() == 0.0
    model = build("pointnet", 3, feature_transform=True)
    model(clouds(2, 50, 0))
    with torch.no_grad():
        model.feature_transform.head[-1].bias.add_(0.1)
    model(clouds(2, 50, 0))
    assert model.regularization_loss().item() > 0.0


def toy_set(per_class=4, count=64, seed=0):
    """3 classes of flat clouds; the class says in which third (along x) channel 3 is high."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat_interleave(per_class)
    points = torch.rand(len(labels), count, 6, generator=generator) * 0.1
    points[..., :2] = torch.rand(len(labels), count, 2, generator=generator) * 2 - 1
    third = ((points[..., 0] + 1) * 1.5).floor().clamp(max=2)
    points[..., 3] += 0.9 * (third == labels.unsqueeze(1))
    return points, labels


# PointNet++ groups 512 × 32 points per cloud whatever N is: fewer clouds and steps.
@pytest.mark.parametrize(("name", "options", "per_class", "steps"), [
    ("pointnet2", {}, 2, 10), ("pointnet", {}, 4, 40), ("dgcnn", {"k": 10}, 4, 40)])
def test_each_model_fits_a_tiny_separable_set(name, options, per_class, steps):
    torch.manual_seed(0)
    points, labels = toy_set(per_class)
    model = build(name, 3, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(points), labels)
        loss.backward()
        optimizer.step()
    # Running statistics = this batch's (a cumulative average over one pass), then predict in eval.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                module.momentum = None
        model(points)
        model.eval()
        predicted = model(points).argmax(-1)
    assert loss.item() < 0.2
    assert torch.equal(predicted, labels)


def naive_edge_conv(conv, x, neighbours):
    """EdgeConv as DGCNN's code has it: build [x_j − x_i, x_i] for every edge, then the layer."""
    centre = x.unsqueeze(2).expand(-1, -1, neighbours.shape[-1], -1)
    batch = torch.arange(x.shape[0]).view(-1, 1, 1)
    edges = torch.cat([x[batch, neighbours] - centre, centre], -1)
    h = conv.linear(edges)
    h = conv.norm(h.reshape(-1, h.shape[-1])).reshape(h.shape)
    return torch.nn.functional.leaky_relu(h, 0.2).max(2).values


@pytest.mark.parametrize("training", [True, False])
def test_edge_conv_equals_the_edge_feature_formulation(training, monkeypatch):
    from mer_viewer.core.ml import ops
    from mer_viewer.core.ml.models import dgcnn

    monkeypatch.setattr(dgcnn, "CHUNK_BYTES", 5000)  # several chunks in eval
    torch.manual_seed(0)
    conv = dgcnn.EdgeConv(6, 16).double().train(training)
    with torch.no_grad():
        conv.norm.running_mean.uniform_(-0.5, 0.5)
        conv.norm.running_var.uniform_(0.5, 2.0)
        conv.norm.weight.uniform_(-1.5, 1.5)  # negative scales: max before activation must still hold
    x = clouds(2, 90, 7, dtype=torch.float64)
    neighbours = ops.knn(x[..., :3], 10)
    expected = naive_edge_conv(conv, x, neighbours)
    assert torch.allclose(conv(x, neighbours), expected, atol=1e-12, rtol=0)


def motion_features(seed=3, n=400):
    """xyz ⊕ (r̂, θ̂, φ̂) computed by core.motion from random motion; the first 40 are black."""
    import numpy as np

    from mer_viewer.core.motion import normalise, spherical

    rng = np.random.default_rng(seed)
    delta = rng.normal(0, 1e-3, size=(n, 3))
    delta[:40] *= 1e-3  # below the 0.3 mm noise floor
    xyz = rng.uniform(-1, 1, size=(n, 3))
    r, theta, phi = spherical(delta)
    features = np.concatenate([xyz, normalise(r, theta, phi, 2e-3)], 1).astype(np.float32)
    return features, delta


def test_vector_encoding_is_the_unit_motion_direction():
    """``vector`` hands the first layer ΔP / ‖ΔP‖ (zero for black points) beside xyz and r̂,
    against the motion itself as the reference."""
    import numpy as np

    from mer_viewer.core.ml.models.layers import encode_motion

    features, delta = motion_features()
    out = encode_motion(torch.from_numpy(features)[None], "vector")[0].numpy()
    assert out.shape == (len(features), 7)
    np.testing.assert_array_equal(out[:, :4], features[:, :4])
    r = np.linalg.norm(delta, axis=1, keepdims=True)
    expected = np.where(r >= 0.3e-3, delta / r, 0.0)  # black below the noise floor
    assert (r[:40] < 0.3e-3).all() and (r >= 0.3e-3).mean() > 0.5
    np.testing.assert_allclose(out[:, 4:], expected, atol=2e-5)
    # θ̂ near 0 and near 1 (leftward motion, a hair up or down) encode to nearly the same input
    near = np.array([[0, 0, 0, 0.5, 0.001, 0.5], [0, 0, 0, 0.5, 0.999, 0.5]], np.float32)
    pair = encode_motion(torch.from_numpy(near), "vector").numpy()
    assert np.abs(pair[0] - pair[1]).max() < 0.02  # θ̂ itself differs by 0.998
    assert encode_motion(torch.from_numpy(features), "color").data_ptr() == \
        torch.from_numpy(features).data_ptr()  # the paper's input, untouched


def test_vector_encoding_commutes_with_mirroring():
    """Encoding the mirrored cloud mirrors the encoded direction: (dx, dy, dz) → (−dx, dy, dz)."""
    import numpy as np

    from mer_viewer.core.ml.data import mirrored
    from mer_viewer.core.ml.models.layers import encode_motion

    features, _ = motion_features(seed=5)
    plain = encode_motion(torch.from_numpy(features), "vector").numpy()
    mirror = encode_motion(torch.from_numpy(mirrored(features)), "vector").numpy()
    flip = np.array([-1, 1, 1, 1, -1, 1, 1], np.float32)
    np.testing.assert_allclose(mirror, plain * flip, atol=2e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_take_the_vector_encoding(name):
    model = build(name, 3, motion_encoding="vector")
    logits = model(clouds(2, 160, 1))
    assert logits.shape == (2, 3)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="motion_encoding"):
        build(name, 3, motion_encoding="polar")
    with pytest.raises(ValueError, match="6 channels"):
        build(name, 3, in_channels=3, motion_encoding="vector")
