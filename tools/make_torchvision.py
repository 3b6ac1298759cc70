#!/usr/bin/python3
"""Makes the torchvision fixtures of the Grad-CAM layer tests (Debian's python3-torch 1.13, python3-torchvision 0.14).

Run from the repository root:  /usr/bin/python3 tools/make_torchvision.py
It writes tests/fixtures/torchvision/. Each model is built from torchvision's own classes, so the
scripted or traced code is torchvision's real forward (ResNet flattens between avgpool and fc, VGG
between avgpool and classifier, MobileNetV2 pools functionally); only widths and inputs are small so
that the files stay under 3 MB. Weights are random with a fixed seed; BatchNorm layers get random
affine parameters and running statistics from a few random batches, so that eval-mode BN matters.

  resnet18_scripted.pt, resnet18_traced.pt
      torchvision.models.ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10) at 1/8 width (8, 16, 32, 64
      channels), input 3x96x96; torch.jit.script and torch.jit.trace of the same weights.
  vgg11_scripted.pt, vgg11_traced.pt
      torchvision.models.VGG(make_layers(cfg "A" at 1/8 width), num_classes=10) with the classifier's
      hidden width 4096 cut to 64 (same Sequential structure), input 3x96x96.
  mobilenet_v2_split.pt
      torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10), input 3x96x96, exported by
      tools/explain_export.py at "features.18" (Grad-CAM layer "forward_features"), with its stages
      (features.1, .3, .6, .13, .18) and pre_logits.

The input all references are computed on, and for each model a reference computed by PyTorch on
the eager model:
  input.npy                         float32 [2, 3, 96, 96]
  <model>.logits.npy                float32 [2, 10]
  <model>.<layer>.activations.npy   the layer's output A (a forward hook), [2, K, H, W]
  <model>.<layer>.cam.npy           Grad-CAM ReLU(sum_k alpha_k A_k), alpha_k the spatial mean of
                                    d y_target / d A_k, target the predicted class; not normalised; [2, H, W]
"""
import os

import numpy as np
import torch
from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.models.resnet import BasicBlock, ResNet
from torchvision.models.vgg import VGG, cfgs, make_layers

import explain_export

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "torchvision")
WIDTH = 8
INPUT = (2, 3, 96, 96)


class NarrowResNet(ResNet):
    """torchvision's ResNet-18 at 1/WIDTH of its channels; forward is ResNet's own."""

    def __init__(self):
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=10)
        self.conv1 = nn.Conv2d(3, 64 // WIDTH, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64 // WIDTH)
        self.fc = nn.Linear(512 // WIDTH, 10)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        if planes == 64:  # the first layer: conv1 gives 64 // WIDTH channels
            self.inplanes = 64 // WIDTH
        return super()._make_layer(block, planes // WIDTH, blocks, stride, dilate)


def narrow_vgg11():
    """torchvision's VGG-11 (cfg "A", no BatchNorm) at 1/WIDTH of its channels; forward is VGG's own."""
    cfg = [v if v == "M" else v // WIDTH for v in cfgs["A"]]
    model = VGG(make_layers(cfg), num_classes=10)
    hidden = 4096 // 64
    model.classifier = nn.Sequential(
        nn.Linear(512 // WIDTH * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, 10))
    return model


def settle_batchnorm(model):
    """Random BN affine parameters and running statistics from random batches, then eval mode."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
            m.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, *INPUT[1:]) * 0.8 + 0.1)
    return model.eval()


def reference(model, layer, x):
    """Logits, the layer's activations and the Grad-CAM map of the eager model, by a forward hook."""
    seen = []
    hook = model.get_submodule(layer).register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        logits = model(x)
    finally:
        hook.remove()
    activations = seen[0]
    target = logits.argmax(1, keepdim=True)
    grad, = torch.autograd.grad(logits.gather(1, target).sum(), activations)
    cam = torch.relu((grad.mean((2, 3), keepdim=True) * activations).sum(1))
    return logits.detach(), activations.detach(), cam.detach()


def save_npy(name, t):
    np.save(os.path.join(OUT, name), t.numpy().astype(np.float32))


def save_references(name, model, layers, x, file_layer=None):
    for layer in layers:
        logits, activations, cam = reference(model, layer, x)
        save_npy(f"{name}.logits.npy", logits)
        save_npy(f"{name}.{file_layer or layer}.activations.npy", activations)
        save_npy(f"{name}.{file_layer or layer}.cam.npy", cam)
    return logits


def save_script_and_trace(name, model, x, logits):
    for kind, module in (("scripted", torch.jit.script(model)), ("traced", torch.jit.trace(model, x))):
        with torch.no_grad():
            got = module(x)
        assert torch.allclose(got, logits, rtol=1e-5, atol=1e-6), f"{name} {kind} differs from eager"
        torch.jit.save(module, os.path.join(OUT, f"{name}_{kind}.pt"))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(INPUT)
    save_npy("input.npy", x)

    resnet = settle_batchnorm(NarrowResNet())
    logits = save_references("resnet18", resnet, ["layer4", "layer3.1"], x)
    save_script_and_trace("resnet18", resnet, x, logits)

    vgg = narrow_vgg11().eval()
    logits = save_references("vgg11", vgg, ["features.19"], x)
    save_script_and_trace("vgg11", vgg, x, logits)

    mobilenet = settle_batchnorm(mobilenet_v2(width_mult=0.25, num_classes=10))
    save_references("mobilenet_v2", mobilenet, ["features.18"], x, file_layer="forward_features")
    explain_export.export(mobilenet, "features.18", os.path.join(OUT, "mobilenet_v2_split.pt"), x)


if __name__ == "__main__":
    main()
