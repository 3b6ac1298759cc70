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

    from explain_export import export
    export(torchvision.models.mobilenet_v2(weights="DEFAULT"), "features.18", "mobilenet_v2.pt",
           torch.rand(1, 3, 224, 224))

or from the shell, for a model made by a function that takes keyword arguments:

    /usr/bin/python3 tools/explain_export.py torchvision.models:mobilenet_v2 features.18 mobilenet_v2.pt \\
        --input 3,224,224 --arg weights=DEFAULT
"""
import argparse
import importlib

import torch
from torch import fx, nn

TOLERANCE = 1e-5


class _KeepWhole(fx.Tracer):
    """The default tracer, except that the layer to split at is one call even if it is a container."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def is_leaf_module(self, m, qualname):
        return qualname == self.layer or super().is_leaf_module(m, qualname)


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


def _copy_nodes(nodes, graph, env, cut_inputs):
    """Copies nodes into graph; a value defined before the cut other than the layer's output is refused."""
    def lookup(n):
        if n not in env:
            raise ValueError(cut_inputs(n))
        return env[n]

    for node in nodes:
        env[node] = graph.node_copy(node, lookup)
    return env


def split(model, layer):
    """The (features, head) GraphModules of model cut at the output of submodule `layer`."""
    names = dict(model.named_modules())
    if layer not in names or layer == "":
        parent = layer.rpartition(".")[0]
        while parent and parent not in names:
            parent = parent.rpartition(".")[0]
        prefix = parent + "." if parent else ""
        children = ", ".join(f'"{prefix}{n}"' for n, _ in names[parent].named_children())
        raise ValueError(f'model has no submodule "{layer}" ({f"{parent} has" if parent else "its children:"} {children})')
    graph = _KeepWhole(layer).trace(model)
    nodes = list(graph.nodes)
    calls = [i for i, n in enumerate(nodes) if n.op == "call_module" and n.target == layer]
    if len(calls) != 1:
        raise ValueError(f'submodule "{layer}" is called {len(calls)} times in forward; it must be called once')
    cut = calls[0]
    inputs = [n for n in nodes[:cut] if n.op == "placeholder"]
    if len(inputs) != 1:
        raise ValueError(f"forward takes {len(inputs)} inputs; only models with one input can be split")
    output = nodes[-1]

    features_graph = fx.Graph()
    env = _copy_nodes(nodes[:cut + 1], features_graph, {}, lambda n: f"{n} is not defined")
    features_graph.output(env[nodes[cut]])

    head_graph = fx.Graph()
    head_env = {nodes[cut]: head_graph.placeholder("features")}
    for n in nodes[:cut]:
        if n.op == "get_attr":
            head_env[n] = head_graph.node_copy(n, lambda a: head_env[a])
    _copy_nodes(nodes[cut + 1:-1], head_graph, head_env,
                lambda n: f'cannot split at "{layer}": forward uses "{n}", computed before the layer, after it too '
                          "(a skip connection around the layer); pick a layer that every path goes through")
    head_graph.output(fx.map_arg(output.args[0], lambda n: head_env[n]))
    return fx.GraphModule(model, features_graph), fx.GraphModule(model, head_graph)


def export(model, layer, path, example_input):
    """Saves model as TorchScript exporting forward_features/forward_head split at submodule `layer`.

    Checks on example_input that forward_features gives the layer's own output (a forward hook on the
    original model) and that forward gives the original model's logits, within 1e-5; returns the
    scripted module.
    """
    model = model.eval()
    features, head = split(model, layer)
    scripted = torch.jit.script(SplitModel(features, head))
    seen = []
    # A copy: forward may go on in place (DenseNet's F.relu(features, inplace=True)).
    hook = model.get_submodule(layer).register_forward_hook(lambda _m, _i, out: seen.append(out.clone()))
    with torch.no_grad():
        try:
            expected = model(example_input)
        finally:
            hook.remove()
        got_features = scripted.forward_features(example_input)
        got = scripted(example_input)
    if not torch.allclose(got_features, seen[0], rtol=TOLERANCE, atol=TOLERANCE):
        raise ValueError(f'forward_features does not reproduce the output of "{layer}"')
    if not torch.allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE):
        raise ValueError(f'the model split at "{layer}" does not reproduce its logits '
                         f"(max difference {(got - expected).abs().max().item():.3g})")
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
    args = parser.parse_args()
    module, _, name = args.factory.partition(":")
    kwargs = dict(_parse_arg(a) for a in args.arg)
    model = getattr(importlib.import_module(module), name)(**kwargs)
    shape = [1] + [int(d) for d in args.input.split(",")]
    export(model, args.layer, args.path, torch.rand(shape))
    print(f"{args.path}: Grad-CAM layer \"forward_features\" is {args.layer}")


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
