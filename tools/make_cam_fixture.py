#!/usr/bin/python3
"""Makes the CAM-family reference fixture (Debian's python3-torch 1.13, numpy; no pytorch-grad-cam needed).

Run once from the repository root:  /usr/bin/python3 tools/make_cam_fixture.py
It writes tests/fixtures/cam/: model.pt (a small seeded CNN, TorchScript), inputs.npy [4, 3, 12, 12] float32,
targets.npy [4] int64 (the predicted classes) and one <method>.npy [4, 12, 12] float32 per CAM variant: the map
pytorch-grad-cam 1.5.5 computes at layer "2" (the second convolution: signed activations) before its
scale_cam_image (min-max and resize),
i.e. BaseCAM.compute_cam_per_layer's np.maximum(get_cam_image(...), 0); score-cam and ablation-cam are taken at
layer "1" (the first ReLU: non-negative, so pytorch-grad-cam ablates channels to 0, as the paper does).
It also writes occlusion-a.npy and occlusion-b.npy [4, 3, 12, 12]: Captum's Occlusion (vendored below) of
the same model and inputs for the targets, two windows whose last positions are cropped at the edge.

How pytorch-grad-cam is vendored: there is no PyPI here, so the functions below are copied from its source
(github.com/jacobgil/pytorch-grad-cam at commit 6b2c83d, "increase version" to 1.5.5: base_cam.py,
grad_cam.py, grad_cam_plusplus.py, hirescam.py, xgrad_cam.py, layer_cam.py, grad_cam_elementwise.py,
eigen_cam.py, eigen_grad_cam.py, score_cam.py, ablation_cam.py, ablation_layer.py, utils/svd_on_activations.py,
utils/model_targets.py), unchanged but for dropping `self`, tqdm, unused arguments and Ablation-CAM's
ratio_channels_to_ablate < 1 path; activations and gradients are taken with the same forward/backward hooks as its
ActivationsAndGradients (register_forward_hook, then a tensor hook for the gradient), the loss being the sum
of each sample's target logit (ClassifierOutputTarget). Their licence:

    MIT License, Copyright (c) 2021 Jacob Gildenblat. Permission is hereby granted, free of charge, to any
    person obtaining a copy of this software and associated documentation files (the "Software"), to deal in
    the Software without restriction, including without limitation the rights to use, copy, modify, merge,
    publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
    Software is furnished to do so, subject to the following conditions: The above copyright notice and this
    permission notice shall be included in all copies or substantial portions of the Software. THE SOFTWARE IS
    PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.

One stated difference: 1.5.5's get_2d_projection (Eigen-CAM, EigenGrad-CAM) leaves the sign of the first
principal direction to LAPACK, so its map may come out as the negative of the salient region (and then the
ReLU keeps the wrong half). ExplainCluster fixes the sign as pytorch-grad-cam's later
get_2d_projection_with_sign_correction does (flip when |min| > |max|, Seg-Eigen-CAM Eq. 13); the eigen maps
here are 1.5.5's projection with that correction applied (the script prints where LAPACK's sign differed).
"""
import os

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "cam")
LAYER = 2
GRADIENT_FREE_LAYER = 1


def model():
    """Conv-ReLU-Conv (layer "2": 8 × 12 × 12) then max-pool and a linear head: the layer's gradients vary over
    space, are zero where the pool did not pick (Grad-CAM++'s `grads != 0` matters) and reach negative
    activations too (no ReLU after the layer, so LayerCAM and element-wise Grad-CAM differ)."""
    torch.manual_seed(20)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, padding=1),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 6 * 6, 5)).eval()


# ---- vendored from pytorch-grad-cam 1.5.5 (MIT, see above) ------------------------------------------------

def get_2d_projection(activation_batch):
    # TBD: use pytorch batch svd implementation
    activation_batch = activation_batch.copy()
    activation_batch[np.isnan(activation_batch)] = 0
    projections = []
    for activations in activation_batch:
        reshaped_activations = (activations).reshape(
            activations.shape[0], -1).transpose()
        # Centering before the SVD seems to be important here,
        # Otherwise the image returned is negative
        reshaped_activations = reshaped_activations - \
            reshaped_activations.mean(axis=0)
        U, S, VT = np.linalg.svd(reshaped_activations, full_matrices=True)
        projection = reshaped_activations @ VT[0, :]
        projection = projection.reshape(activations.shape[1:])
        projections.append(projection)
    return np.float32(projections)


def base_cam_image(weights, activations):
    """BaseCAM.get_cam_image without eigen_smooth (2D conv)."""
    weighted_activations = weights[:, :, None, None] * activations
    return weighted_activations.sum(axis=1)


def grad_cam_weights(activations, grads):
    return np.mean(grads, axis=(2, 3))


def grad_cam_plusplus_weights(activations, grads):
    grads_power_2 = grads**2
    grads_power_3 = grads_power_2 * grads
    # Equation 19 in https://arxiv.org/abs/1710.11063
    sum_activations = np.sum(activations, axis=(2, 3))
    eps = 0.000001
    aij = grads_power_2 / (2 * grads_power_2 +
                           sum_activations[:, :, None, None] * grads_power_3 + eps)
    # Now bring back the ReLU from eq.7 in the paper,
    # And zero out aijs where the activations are 0
    aij = np.where(grads != 0, aij, 0)

    weights = np.maximum(grads, 0) * aij
    weights = np.sum(weights, axis=(2, 3))
    return weights


def xgrad_cam_weights(activations, grads):
    sum_activations = np.sum(activations, axis=(2, 3))
    eps = 1e-7
    weights = grads * activations / \
        (sum_activations[:, :, None, None] + eps)
    weights = weights.sum(axis=(2, 3))
    return weights


def hirescam_image(activations, grads):
    elementwise_activations = grads * activations
    return elementwise_activations.sum(axis=1)


def layer_cam_image(activations, grads):
    spatial_weighted_activations = np.maximum(grads, 0) * activations
    return spatial_weighted_activations.sum(axis=1)


def grad_cam_elementwise_image(activations, grads):
    elementwise_activations = np.maximum(grads * activations, 0)
    return elementwise_activations.sum(axis=1)


def eigen_cam_image(activations, grads):
    return get_2d_projection(activations)


def eigen_grad_cam_image(activations, grads):
    return get_2d_projection(grads * activations)

def score_cam_weights(model, input_tensor, targets, activations, batch_size=16):
    """ScoreCAM.get_cam_weights (self.model, self.device and tqdm dropped)."""
    with torch.no_grad():
        upsample = torch.nn.UpsamplingBilinear2d(
            size=input_tensor.shape[-2:])
        activation_tensor = torch.from_numpy(activations)

        upsampled = upsample(activation_tensor)

        maxs = upsampled.view(upsampled.size(0),
                              upsampled.size(1), -1).max(dim=-1)[0]
        mins = upsampled.view(upsampled.size(0),
                              upsampled.size(1), -1).min(dim=-1)[0]

        maxs, mins = maxs[:, :, None, None], mins[:, :, None, None]
        upsampled = (upsampled - mins) / (maxs - mins + 1e-8)

        input_tensors = input_tensor[:, None,
                                     :, :] * upsampled[:, :, None, :, :]

        BATCH_SIZE = batch_size

        scores = []
        for target, tensor in zip(targets, input_tensors):
            for i in range(0, tensor.size(0), BATCH_SIZE):
                batch = tensor[i: i + BATCH_SIZE, :]
                outputs = [target(o).cpu().item()
                           for o in model(batch)]
                scores.extend(outputs)
        scores = torch.Tensor(scores)
        scores = scores.view(activations.shape[0], activations.shape[1])
        weights = torch.nn.Softmax(dim=-1)(scores).numpy()
        return weights


class AblationLayer(torch.nn.Module):
    """ablation_layer.AblationLayer with ratio_channels_to_ablate = 1.0 (all channels)."""

    def activations_to_be_ablated(self, activations):
        self.indices = np.int32(range(activations.shape[0]))
        return self.indices

    def set_next_batch(
            self,
            input_batch_index,
            activations,
            num_channels_to_ablate):
        self.activations = activations[input_batch_index, :, :, :].clone(
        ).unsqueeze(0).repeat(num_channels_to_ablate, 1, 1, 1)

    def __call__(self, x):
        output = self.activations
        for i in range(output.size(0)):
            # Commonly the minimum activation will be 0,
            # And then it makes sense to zero it out.
            # However depending on the architecture,
            # If the values can be negative, we use very negative values
            # to perform the ablation, deviating from the paper.
            if torch.min(output) == 0:
                output[i, self.indices[i], :] = 0
            else:
                ABLATION_VALUE = 1e7
                output[i, self.indices[i], :] = torch.min(
                    output) - ABLATION_VALUE

        return output


def ablation_cam_weights(model, layer, input_tensor, targets, activations, batch_size=32):
    """AblationCAM.get_cam_weights with all channels ablated (assemble_ablation_scores is then the identity);
    replace_layer_recursive is a Sequential's item assignment here."""
    target_layer = model[layer]
    saved = {}
    handle = target_layer.register_forward_hook(lambda module, inputs, output: saved.update(a=output))
    with torch.no_grad():
        outputs = model(input_tensor)
        handle.remove()
        original_scores = np.float32(
            [target(output).cpu().item() for target, output in zip(targets, outputs)])

    ablation_layer = AblationLayer()
    model[layer] = ablation_layer

    weights = []
    with torch.no_grad():
        for batch_index, (target, tensor) in enumerate(
                zip(targets, input_tensor)):
            new_scores = []
            batch_tensor = tensor.repeat(batch_size, 1, 1, 1)
            channels_to_ablate = ablation_layer.activations_to_be_ablated(activations[batch_index, :])
            number_channels_to_ablate = len(channels_to_ablate)

            for i in range(0, number_channels_to_ablate, batch_size):
                if i + batch_size > number_channels_to_ablate:
                    batch_tensor = batch_tensor[:(
                        number_channels_to_ablate - i)]
                ablation_layer.set_next_batch(
                    input_batch_index=batch_index,
                    activations=saved["a"],
                    num_channels_to_ablate=batch_tensor.size(0))
                score = [target(o).cpu().item()
                         for o in model(batch_tensor)]
                new_scores.extend(score)
                ablation_layer.indices = ablation_layer.indices[batch_tensor.size(
                    0):]
            weights.extend(np.float32(new_scores))

    weights = np.float32(weights)
    weights = weights.reshape(activations.shape[:2])
    original_scores = original_scores[:, None]
    weights = (original_scores - weights) / original_scores

    model[layer] = target_layer
    return weights


# ---- vendored from Captum (github.com/pytorch/captum at faac087, captum/attr/_core/occlusion.py and
# feature_ablation.py; BSD 3-Clause licence, Copyright (c) 2019-present, Facebook, Inc.; redistribution with
# this notice permitted): Occlusion._occlusion_mask unchanged but for `self`, the shift counts of
# Occlusion.attribute, and FeatureAblation's loop for one tensor input, one perturbation per eval, with
# Occlusion's use_weights (each input's attribution divided by how many windows covered it).

def _occlusion_mask(input, ablated_feature_num, sliding_window_tsr, strides, shift_counts, is_expanded_input):
    remaining_total = ablated_feature_num
    current_index = []
    for i, shift_count in enumerate(shift_counts):
        stride = strides[i] if isinstance(strides, tuple) else strides
        current_index.append((remaining_total % shift_count) * stride)
        remaining_total = remaining_total // shift_count

    dim = 2 if is_expanded_input else 1
    remaining_padding = np.subtract(
        input.shape[dim:], np.add(current_index, sliding_window_tsr.shape)
    )
    pad_values = [
        val for pair in zip(remaining_padding, current_index) for val in pair
    ]
    pad_values.reverse()
    padded_tensor = torch.nn.functional.pad(
        sliding_window_tsr, tuple(pad_values)  # type: ignore
    )
    return padded_tensor.reshape((1,) + tuple(padded_tensor.shape))


def occlusion(forward_func, inp, sliding_window_shapes, strides, baselines, target):
    sliding_window_tsr = torch.ones(sliding_window_shapes)
    current_shape = np.subtract(inp.shape[1:], sliding_window_shapes)
    shift_counts = tuple(np.add(np.ceil(np.divide(current_shape, strides)).astype(int), 1))
    with torch.no_grad():
        initial_eval = forward_func(inp).gather(1, target[:, None])[:, 0]
        total_attrib = torch.zeros_like(inp)
        weights = torch.zeros_like(inp)
        for j in range(int(np.prod(shift_counts))):
            expanded_input = inp[None]                      # [1 perturbation, n, ...]
            input_mask = torch.stack([_occlusion_mask(expanded_input, j, sliding_window_tsr, strides, shift_counts,
                                                      is_expanded_input=True)], dim=0).long()   # [1, 1, ...]
            ablated = (expanded_input * (torch.ones(1, dtype=torch.long) - input_mask).to(inp.dtype)) \
                + (baselines * input_mask.to(inp.dtype))
            modified_eval = forward_func(ablated.reshape(inp.shape)).gather(1, target[:, None]).reshape(-1, 1)
            eval_diff = initial_eval.reshape(1, -1) - modified_eval.reshape(1, -1)     # (n_feature_perturbed, n_outputs)
            eval_diff = eval_diff.reshape(eval_diff.shape + (inp.dim() - 1) * (1,))
            weights += input_mask.float().sum(dim=0)
            total_attrib += (eval_diff * input_mask.to(inp.dtype)).sum(dim=0)
    return total_attrib / weights


# Captum's Occlusion cases of the fixture: (file, sliding_window_shapes, strides, baselines); their job-file
# options are in tests/ExplainCluster.Tests/Engine/OcclusionTests.cs.
OCCLUSIONS = [("occlusion-a", (3, 4, 4), (3, 3, 3), 0.0), ("occlusion-b", (1, 5, 5), (1, 2, 2), 0.25)]

# ---- end of the vendored code --------------------------------------------------------------------------


def sign_corrected(projection):
    """get_2d_projection_with_sign_correction's flip (pytorch-grad-cam after 1.5.5), per sample."""
    flip = np.abs(projection.min(axis=(1, 2))) > np.abs(projection.max(axis=(1, 2)))
    return np.where(flip[:, None, None], -projection, projection).astype(np.float32), flip


class ClassifierOutputTarget:
    """utils/model_targets.py."""

    def __init__(self, category):
        self.category = category

    def __call__(self, model_output):
        if len(model_output.shape) == 1:
            return model_output[self.category]
        return model_output[:, self.category]


def activations_and_gradients(m, x, layer=LAYER):
    """As ActivationsAndGradients: the target layer's output by a forward hook, its gradient by a tensor hook."""
    store = {}

    def hook(module, inputs, output):
        store["a"] = output.cpu().detach()

        def grad_hook(g):
            store["g"] = g.cpu().detach()
        output.register_hook(grad_hook)

    handle = m[layer].register_forward_hook(hook)
    outputs = m(x)
    targets = outputs.argmax(1)
    m.zero_grad()
    loss = sum(o[t] for o, t in zip(outputs, targets))   # ClassifierOutputTarget per sample
    loss.backward(retain_graph=True)
    handle.remove()
    return store["a"].numpy(), store["g"].numpy(), targets.numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    m = model()
    torch.jit.save(torch.jit.script(m), os.path.join(OUT, "model.pt"))
    g = torch.Generator().manual_seed(7)
    x = torch.randn(4, 3, 12, 12, generator=g)
    activations, grads, targets = activations_and_gradients(m, x)
    np.save(os.path.join(OUT, "inputs.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "targets.npy"), targets.astype(np.int64))
    weighted = {"grad-cam": grad_cam_weights, "grad-cam-plus-plus": grad_cam_plusplus_weights, "xgrad-cam": xgrad_cam_weights}
    images = {"hires-cam": hirescam_image, "layer-cam": layer_cam_image, "grad-cam-element-wise": grad_cam_elementwise_image}
    eigen = {"eigen-cam": eigen_cam_image, "eigen-grad-cam": eigen_grad_cam_image}
    cams = {name: base_cam_image(f(activations, grads), activations) for name, f in weighted.items()}
    cams.update({name: f(activations, grads) for name, f in images.items()})
    for name, f in eigen.items():
        cams[name], flipped = sign_corrected(f(activations, grads))
        print(f"{name}: LAPACK's sign flipped for samples {np.nonzero(flipped)[0].tolist()}")
    # The gradient-free variants at the ReLU (layer "1"), where pytorch-grad-cam's ablation is to 0 as the paper's.
    relu_activations, _, _ = activations_and_gradients(m, x, GRADIENT_FREE_LAYER)
    targets_list = [ClassifierOutputTarget(int(t)) for t in targets]
    for name, w in [("score-cam", score_cam_weights(m, x, targets_list, relu_activations)),
                    ("ablation-cam", ablation_cam_weights(m, GRADIENT_FREE_LAYER, x, targets_list, relu_activations))]:
        cams[name] = base_cam_image(w, relu_activations)
    with torch.no_grad():
        for name, window, strides, baseline in OCCLUSIONS:
            attribution = occlusion(m, x, window, strides, baseline, torch.from_numpy(targets)).numpy().astype(np.float32)
            assert attribution.shape == (4, 3, 12, 12) and np.abs(attribution).max() > 0, name
            np.save(os.path.join(OUT, f"{name}.npy"), attribution)
            print(f"{name}: max |attribution| {np.abs(attribution).max():.4f}")
    for name, cam in cams.items():
        cam = np.maximum(cam, 0).astype(np.float32)   # compute_cam_per_layer, before scale_cam_image
        assert cam.shape == (4, 12, 12) and (cam > 0).any(), name
        np.save(os.path.join(OUT, f"{name}.npy"), cam)
        print(f"{name}: {np.count_nonzero(cam)} of {cam.size} positive, max {cam.max():.4f}")


if __name__ == "__main__":
    main()
