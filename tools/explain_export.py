#!/usr/bin/python3
"""Exports any nn.Module as TorchScript that ExplainCluster can split for Grad-CAM (needs only torch).

ExplainCluster splits a model at a layer in one of two ways: by chaining its top-level children (what
nn.Sequential and most torchvision classifiers do), or through exported `forward_features(x)` and
`forward_head(features)` methods (the timm convention). A model whose forward does other work between
its children (torchvision's MobileNetV2 pools functionally inside forward) needs the second, and this
file makes it: torch.fx traces the model with the named submodule kept whole, the graph is cut at that
submodule's output, and the two halves become forward_features and forward_head of one scripted module
whose forward is forward_head(forward_features(x)). The export is checked on the example input before
it is saved. In a job, the Grad-CAM layer is then "forward_features".

Where it can, the export also carries timm's other two entry points, which ExplainCluster's views tap:
`stages(x) -> List[Tensor]`, each stage's output (the last is forward_features; by default the blocks of
the module holding the layer, grouped by the spatial size of their output: for MobileNetV2 features.1,
.3, .6, .13 and .18; or those named by --stages), and `pre_logits(features)`, the input of the head's
last Linear: the pooled, flattened features that timm's forward_head(x, pre_logits=True) gives. Both are
checked against the original model's own modules (forward hooks) on the example input.

    from explain_export import export
    export(torchvision.models.mobilenet_v2(weights="DEFAULT"), "features.18", "mobilenet_v2.pt",
           torch.rand(1, 3, 224, 224))

or from the shell, for a model made by a function that takes keyword arguments:

    /usr/bin/python3 tools/explain_export.py torchvision.models:mobilenet_v2 features.18 mobilenet_v2.pt \\
        --input 3,224,224 --arg weights=DEFAULT [--stages features.3,features.6,features.13,features.18]
"""
import argparse
import importlib
from collections import OrderedDict
from typing import List

import torch
from torch import fx, nn

TOLERANCE = 1e-5


class _KeepWhole(fx.Tracer):
    """The default tracer, except that the named modules (the layer to split at, the stages) are one call each."""

    def __init__(self, layers):
        super().__init__()
        self.layers = set(layers)

    def is_leaf_module(self, m, qualname):
        return qualname in self.layers or super().is_leaf_module(m, qualname)


class SplitModel(nn.Module):
    """forward(x) = forward_head(forward_features(x)), with both halves exported for TorchScript callers."""

    def __init__(self, features, head):
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    @torch.jit.export
    def forward_features(self, x):
        return self.features(x)

    @torch.jit.export
    def forward_head(self, features):
        return self.head(features)


class _Stages:
    """stages(x): each stage's output; `features` is an nn.Sequential of the stages, so its output is the last one's."""

    @torch.jit.export
    def stages(self, x) -> List[torch.Tensor]:
        outputs: List[torch.Tensor] = []
        for stage in self.features:
            x = stage(x)
            outputs.append(x)
        return outputs


class _PreLogits:
    """pre_logits(features): `head` is pre_logits then classifier (timm's forward_head(x, pre_logits=True))."""

    @torch.jit.export
    def pre_logits(self, features):
        return self.head.pre_logits(features)


class StagedSplitModel(_Stages, SplitModel):
    pass


class PreLogitsSplitModel(_PreLogits, SplitModel):
    pass


class StagedPreLogitsSplitModel(_Stages, _PreLogits, SplitModel):
    pass


def _copy_nodes(nodes, graph, env, cut_inputs):
    """Copies nodes into graph; a value defined before the cut other than the layer's output is refused."""
    def lookup(n):
        if n not in env:
            raise ValueError(cut_inputs(n))
        return env[n]

    for node in nodes:
        env[node] = graph.node_copy(node, lookup)
    return env


def _halves(owner, nodes, at, name, refuse):
    """GraphModules of a graph's nodes cut after nodes[at]: the first returns it, the second takes it as input `name`.

    refuse(n) is the error when the second half uses a value n computed before the cut other than nodes[at].
    """
    first = fx.Graph()
    env = _copy_nodes(nodes[:at + 1], first, {}, lambda n: f"{n} is not defined")
    first.output(env[nodes[at]])
    second = fx.Graph()
    env = {nodes[at]: second.placeholder(name)}
    for n in nodes[:at]:
        if n.op == "get_attr":
            env[n] = second.node_copy(n, lambda a: env[a])
    _copy_nodes(nodes[at + 1:-1], second, env, refuse)
    second.output(fx.map_arg(nodes[-1].args[0], lambda n: env[n]))
    return fx.GraphModule(owner, first), fx.GraphModule(owner, second)


def _call_index(nodes, name):
    calls = [i for i, n in enumerate(nodes) if n.op == "call_module" and n.target == name]
    if len(calls) != 1:
        raise ValueError(f'submodule "{name}" is called {len(calls)} times in forward; it must be called once')
    return calls[0]


def _check_submodule(model, layer):
    names = dict(model.named_modules())
    if layer not in names or layer == "":
        parent = layer.rpartition(".")[0]
        while parent and parent not in names:
            parent = parent.rpartition(".")[0]
        prefix = parent + "." if parent else ""
        children = ", ".join(f'"{prefix}{n}"' for n, _ in names[parent].named_children())
        raise ValueError(f'model has no submodule "{layer}" ({f"{parent} has" if parent else "its children:"} {children})')


def split(model, layer, stages=()):
    """The (features, head) GraphModules of model cut at the output of submodule `layer`.

    With stages (submodules called before the layer, in order, the last being the layer), features is an
    nn.Sequential of one GraphModule per stage, each ending at its stage's output.
    """
    for name in [layer, *stages]:
        _check_submodule(model, name)
    nodes = list(_KeepWhole([layer, *stages]).trace(model).nodes)
    cut = _call_index(nodes, layer)
    if len([n for n in nodes[:cut] if n.op == "placeholder"]) != 1:
        raise ValueError("forward takes more than one input; only models with one input can be split")
    features, head = _halves(model, nodes, cut, "features",
                             lambda n: f'cannot split at "{layer}": forward uses "{n}", computed before the layer, after it too '
                                       "(a skip connection around the layer); pick a layer that every path goes through")
    if not stages:
        return features, head
    parts, rest = [], features
    for stage in stages[:-1]:
        rest_nodes = list(rest.graph.nodes)
        part, rest = _halves(model, rest_nodes, _call_index(rest_nodes, stage), "x",
                             lambda n, s=stage: f'cannot end a stage at "{s}": a later stage uses "{n}", computed before it '
                                                "(a skip connection across the stages' boundary)")
        parts.append(part)
    return nn.Sequential(*parts, rest), head


def pre_logits_split(model, head):
    """head cut at the input of its last Linear: (pre_logits, classifier) GraphModules, or None when it has none or cannot be cut."""
    nodes = list(head.graph.nodes)
    linears = [n for n in nodes if n.op == "call_module" and isinstance(model.get_submodule(n.target), nn.Linear)]
    if not linears or not isinstance(linears[-1].args[0], fx.Node):
        return None
    try:
        return _halves(model, nodes, nodes.index(linears[-1].args[0]), "pre_logits",
                       lambda n: f"the classifier uses {n} besides its input")
    except ValueError:
        return None


def find_stages(model, layer, example_input):
    """The stages ending at `layer`: of the module holding it, the children before it, grouped by the spatial size of
    their outputs (as timm's feature_info groups blocks by reduction); each stage ends at the last child of a size.
    """
    parent_name = layer.rpartition(".")[0]
    parent = model.get_submodule(parent_name)
    prefix = parent_name + "." if parent_name else ""
    names = [prefix + n for n, _ in parent.named_children()]
    names = names[:names.index(layer) + 1]
    sizes = {}
    hooks = [model.get_submodule(n).register_forward_hook(_keep(sizes, n, lambda out: tuple(out.shape[2:]))) for n in names]
    try:
        with torch.no_grad():
            model(example_input)
    finally:
        for hook in hooks:
            hook.remove()
    called = [n for n in names if n in sizes]
    stages = [n for n, after in zip(called, called[1:]) if sizes[n] is not None and sizes[n] != sizes[after]]
    return stages + [layer] if stages else []


def _keep(store, name, what):
    """A forward hook keeping what(output) of its module's first call as store[name] (None for a non-tensor output)."""
    def hook(_module, _inputs, out):
        if name not in store:
            store[name] = what(out) if isinstance(out, torch.Tensor) else None
    return hook


def _outputs(model, layers, example_input):
    """The outputs of the named submodules on example_input (forward hooks on the original model), and its logits."""
    seen = {}
    # Copies: forward may go on in place (DenseNet's F.relu(features, inplace=True)).
    hooks = [model.get_submodule(n).register_forward_hook(_keep(seen, n, torch.Tensor.clone)) for n in layers]
    with torch.no_grad():
        try:
            logits = model(example_input)
        finally:
            for hook in hooks:
                hook.remove()
    return seen, logits


def _check(got, expected, what):
    if not torch.allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE):
        raise ValueError(f"{what} (max difference {(got - expected).abs().max().item():.3g})")


def export(model, layer, path, example_input, stages=None):
    """Saves model as TorchScript exporting forward_features/forward_head split at submodule `layer`, and where it can
    stages(x) (each stage's output, the last being forward_features) and pre_logits(features) (the input of the head's
    last Linear: the pooled, flattened features, as timm's forward_head(x, pre_logits=True) gives).

    stages: submodule names ending each stage, in order (the layer is added as the last when left out); None finds
    them (find_stages), [] exports no stages. Checks on example_input that forward_features gives the layer's own
    output, each stage its module's output and pre_logits the input of the last Linear (forward hooks on the original
    model), that forward_head(f) equals classifier(pre_logits(f)) and that forward gives the original model's logits,
    within 1e-5; returns the scripted module.
    """
    model = model.eval()
    stages = find_stages(model, layer, example_input) if stages is None else list(stages)
    if stages and stages[-1] != layer:
        stages.append(layer)
    features, head = split(model, layer, stages)
    cut = pre_logits_split(model, head)
    if cut is not None:
        head = nn.Sequential(OrderedDict(pre_logits=cut[0], classifier=cut[1]))
    kind = {(False, False): SplitModel, (True, False): StagedSplitModel,
            (False, True): PreLogitsSplitModel, (True, True): StagedPreLogitsSplitModel}[(bool(stages), cut is not None)]
    scripted = torch.jit.script(kind(features, head).eval())
    linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    seen, expected = _outputs(model, [layer, *stages], example_input)
    pre_seen = []
    if cut is not None:
        # The input of the Linear the head was cut at (the last Linear the head calls).
        last = [n.target for n in cut[1].graph.nodes if n.op == "call_module" and n.target in linear][0]
        hook = model.get_submodule(last).register_forward_pre_hook(lambda _m, inputs: pre_seen.append(inputs[0].clone()))
        try:
            with torch.no_grad():
                model(example_input)
        finally:
            hook.remove()
    with torch.no_grad():
        got_features = scripted.forward_features(example_input)
        _check(got_features, seen[layer], f'forward_features does not reproduce the output of "{layer}"')
        _check(scripted(example_input), expected, f'the model split at "{layer}" does not reproduce its logits')
        if stages:
            outputs = scripted.stages(example_input)
            for stage, out in zip(stages, outputs):
                _check(out, seen[stage], f'stages() does not reproduce the output of "{stage}"')
            _check(outputs[-1], got_features, "the last of stages() is not forward_features")
        if cut is not None:
            pre = scripted.pre_logits(got_features)
            _check(pre, pre_seen[0], "pre_logits does not reproduce the input of the classifier")
            _check(scripted.forward_head(got_features), scripted.head.classifier(pre),
                   "forward_head(f) is not classifier(pre_logits(f))")
    torch.jit.save(scripted, path)
    return scripted


def _main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("factory", help="module:function that makes the model, e.g. torchvision.models:mobilenet_v2")
    parser.add_argument("layer", help="submodule to split at, e.g. features.18")
    parser.add_argument("path", help="where to save the TorchScript file")
    parser.add_argument("--input", required=True, help="shape of one sample, e.g. 3,224,224")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for the factory (integers and floats are converted)")
    parser.add_argument("--stages", metavar="NAMES",
                        help="comma-separated submodules ending each stage (default: found from the blocks' output sizes; "
                             "\"none\" exports no stages)")
    args = parser.parse_args()
    module, _, name = args.factory.partition(":")
    kwargs = dict(_parse_arg(a) for a in args.arg)
    model = getattr(importlib.import_module(module), name)(**kwargs)
    shape = [1] + [int(d) for d in args.input.split(",")]
    stages = None if args.stages is None else [] if args.stages == "none" else args.stages.split(",")
    scripted = export(model, args.layer, args.path, torch.rand(shape), stages)
    print(f"{args.path}: Grad-CAM layer \"forward_features\" is {args.layer}")
    methods = [m for m in ("stages", "pre_logits") if hasattr(scripted, m)]
    print(f"{args.path}: exports {', '.join(methods) if methods else 'neither stages nor pre_logits'}")


def _parse_arg(text):
    key, _, value = text.partition("=")
    for convert in (int, float):
        try:
            return key, convert(value)
        except ValueError:
            pass
    return key, value


if __name__ == "__main__":
    _main()
