#!/usr/bin/python3
"""Makes the CAM-family reference fixture (Debian's python3-torch 1.13, numpy; no pytorch-grad-cam needed).

Run once from the repository root:  /usr/bin/python3 tools/make_cam_fixture.py
It writes tests/fixtures/cam/: model.pt (a small seeded CNN, TorchScript), inputs.npy [4, 3, 12, 12] float32,
targets.npy [4] int64 (the predicted classes) and one <method>.npy [4, 12, 12] float32 per CAM variant: the map
pytorch-grad-cam 1.5.5 computes at layer "2" (the second convolution: signed activations) before its
scale_cam_image (min-max and resize),
i.e. BaseCAM.compute_cam_per_layer's np.maximum(get_cam_image(...), 0).

How pytorch-grad-cam is vendored: there is no PyPI here, so the functions below are copied from its source
(github.com/jacobgil/pytorch-grad-cam at commit 6b2c83d, "increase version" to 1.5.5: base_cam.py,
grad_cam.py, grad_cam_plusplus.py, hirescam.py, xgrad_cam.py, layer_cam.py, grad_cam_elementwise.py,
eigen_cam.py, eigen_grad_cam.py, utils/svd_on_activations.py), unchanged but for dropping `self` and the
unused arguments; activations and gradients are taken with the same forward/backward hooks as its
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

# ---- end of the vendored code --------------------------------------------------------------------------


def sign_corrected(projection):
    """get_2d_projection_with_sign_correction's flip (pytorch-grad-cam after 1.5.5), per sample."""
    flip = np.abs(projection.min(axis=(1, 2))) > np.abs(projection.max(axis=(1, 2)))
    return np.where(flip[:, None, None], -projection, projection).astype(np.float32), flip


def activations_and_gradients(m, x):
    """As ActivationsAndGradients: the target layer's output by a forward hook, its gradient by a tensor hook."""
    store = {}

    def hook(module, inputs, output):
        store["a"] = output.cpu().detach()

        def grad_hook(g):
            store["g"] = g.cpu().detach()
        output.register_hook(grad_hook)

    handle = m[LAYER].register_forward_hook(hook)
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
    for name, cam in cams.items():
        cam = np.maximum(cam, 0).astype(np.float32)   # compute_cam_per_layer, before scale_cam_image
        assert cam.shape == (4, 12, 12) and (cam > 0).any(), name
        np.save(os.path.join(OUT, f"{name}.npy"), cam)
        print(f"{name}: {np.count_nonzero(cam)} of {cam.size} positive, max {cam.max():.4f}")


if __name__ == "__main__":
    main()
