using System.Reflection;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Grains.Hosting;
using YamlDotNet.RepresentationModel;

namespace ExplainCluster.Tests.Deploy;

/// <summary>
/// The deployment files (Dockerfile, docker-compose.yml, deploy/k8s) parsed as YAML and checked against the
/// code: every setting they set exists, ports and health paths are the ones the silo uses, the storage
/// connection string only comes from the Secret, and the GPU overlay asks for a GPU.
/// </summary>
public class DeployFilesTests
{
    private static readonly string Root = FindRoot();

    private static readonly string ComposeFile = Path.Combine(Root, "docker-compose.yml");

    private static readonly string K8sFolder = Path.Combine(Root, "deploy", "k8s");

    private static readonly string[] SiloServices = ["silo1", "silo2"];

    // ---- environment variables -> settings --------------------------------------------------------------

    [Fact]
    public void EnvironmentVariables_InComposeConfigMapAndWorkloads_MapToSettableProperties()
    {
        var variables = EnvironmentVariables().ToList();
        Assert.Contains(variables, v => v.Name == "Cluster__Provider");
        Assert.Contains(variables, v => v.Name == "Health__Port");
        var problems = variables.Select(v => SettingProblem(v.File, v.Name)).OfType<string>().Distinct().ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Theory]
    [InlineData("Cluster__NoSuchKey")]
    [InlineData("ModelHost__NoSuchKey")]
    [InlineData("Storage__AccountKey")]
    [InlineData("OpenTelemetry__Otlp__Protocol")]
    [InlineData("Health__NoSuchKey")]
    [InlineData("NoSuchSection__Key")]
    [InlineData("ModelHost__EffectiveWorkerThreads")]
    public void SettingProblem_UnknownKey_NamesFileAndKey(string name)
    {
        var problem = SettingProblem("some/file.yaml", name);
        Assert.NotNull(problem);
        Assert.Contains("some/file.yaml", problem);
        Assert.Contains(name, problem);
    }

    [Theory]
    [InlineData("Cluster__AdvertisedAddress")]
    [InlineData("ModelHost__Device")]
    [InlineData("ModelHost__Enabled")]
    [InlineData("Storage__ConnectionString")]
    [InlineData("OpenTelemetry__Otlp__Endpoint")]
    [InlineData("Health__Port")]
    public void SettingProblem_KnownKey_IsNull(string name) => Assert.Null(SettingProblem("some/file.yaml", name));

    // ---- ports ------------------------------------------------------------------------------------------

    [Fact]
    public void Settings_Defaults_AreTheDeployedPorts()
    {
        var cluster = new ClusterSettings();
        Assert.Equal(11111, cluster.SiloPort);
        Assert.Equal(30000, cluster.GatewayPort);
        Assert.Equal(8080, new HealthSettings().Port);
    }

    [Fact]
    public void SiloDeployment_ContainerPorts_MatchSettings()
    {
        var (cluster, health) = ConfiguredSettings(ConfigMapData());
        var container = SiloContainer(K8sDocuments(Path.Combine("base", "silo-deployment.yaml")));
        var ports = Seq(container, "ports").Select(p => int.Parse(Scalar(p, "containerPort"))).ToList();
        Assert.Equal(new[] { cluster.SiloPort, cluster.GatewayPort, health.Port }.Order(), ports.Order());
    }

    [Fact]
    public void Compose_SiloEnvironment_PortsMatchSettings()
    {
        foreach (var name in SiloServices)
        {
            var env = ComposeEnvironment(ComposeService(name));
            var (cluster, health) = ConfiguredSettings(env);
            Assert.Equal(new ClusterSettings().SiloPort, cluster.SiloPort);
            Assert.Equal(new ClusterSettings().GatewayPort, cluster.GatewayPort);
            Assert.Equal(8080, health.Port);
            Assert.Equal("redis", env["Cluster__Provider"]);
        }
    }

    // ---- health -----------------------------------------------------------------------------------------

    [Fact]
    public void SiloDeployment_Probes_UseHealthPathsAndPort()
    {
        var (_, health) = ConfiguredSettings(ConfigMapData());
        var container = SiloContainer(K8sDocuments(Path.Combine("base", "silo-deployment.yaml")));
        var ready = Map(Map(container, "readinessProbe"), "httpGet");
        var live = Map(Map(container, "livenessProbe"), "httpGet");
        Assert.Equal(HealthSettings.ReadyPath, Scalar(ready, "path"));
        Assert.Equal(HealthSettings.LivePath, Scalar(live, "path"));
        Assert.Equal(health.Port, int.Parse(Scalar(ready, "port")));
        Assert.Equal(health.Port, int.Parse(Scalar(live, "port")));
    }

    [Fact]
    public void Compose_SiloHealthcheck_UsesReadyPathOnHealthPort()
    {
        foreach (var name in SiloServices)
        {
            var service = ComposeService(name);
            var (_, health) = ConfiguredSettings(ComposeEnvironment(service));
            var test = Get(service, "healthcheck") is YamlMappingNode check ? Get(check, "test") : null;
            var command = test switch
            {
                YamlSequenceNode s => string.Join(" ", s.Children.Select(c => ((YamlScalarNode)c).Value)),
                YamlScalarNode s => s.Value ?? "",
                _ => throw new Xunit.Sdk.XunitException($"docker-compose.yml: service {name} has no healthcheck.test"),
            };
            Assert.Contains(HealthSettings.ReadyPath, command);
            Assert.Contains($"/{health.Port}", command);
        }
    }

    // ---- the storage connection string ------------------------------------------------------------------

    [Fact]
    public void StorageConnectionString_InKubernetes_ComesOnlyFromSecretKeyRef()
    {
        var found = 0;
        foreach (var (file, doc) in K8sObjects())
        foreach (var env in WorkloadContainers(doc).SelectMany(c => Seq(c, "env")).OfType<YamlMappingNode>())
        {
            if (Scalar(env, "name") != "Storage__ConnectionString") continue;
            found++;
            Assert.True(Get(env, "value") is null, $"{file}: Storage__ConnectionString has an inline value");
            var secret = Map(Map(env, "valueFrom"), "secretKeyRef");
            Assert.Equal("explaincluster-storage", Scalar(secret, "name"));
            Assert.Equal("connectionString", Scalar(secret, "key"));
        }
        Assert.True(found > 0, "no workload takes Storage__ConnectionString from the Secret");
        foreach (var (file, doc) in K8sObjects().Where(o => Kind(o.Doc) == "ConfigMap"))
            Assert.DoesNotContain("Storage__ConnectionString", Keys(Map(doc, "data")));
    }

    [Fact]
    public void KubernetesManifests_NonSecretObjects_InlineNoAccountKey()
    {
        foreach (var (file, doc) in K8sObjects().Where(o => Kind(o.Doc) != "Secret"))
        foreach (var value in Scalars(doc))
            Assert.False(value.Contains("AccountKey=", StringComparison.OrdinalIgnoreCase), $"{file}: {Kind(doc)} inlines an AccountKey");
    }

    [Fact]
    public void Secrets_StorageConnectionStringAndSubmitToken_AreOnlyPlaceholders()
    {
        var secrets = K8sObjects().Where(o => Kind(o.Doc) == "Secret").ToDictionary(o => Scalar(Map(o.Doc, "metadata"), "name")!, o => o);
        Assert.Equal(["explaincluster-storage", "explaincluster-submit"], secrets.Keys.Order());
        foreach (var (name, key) in new[] { ("explaincluster-storage", "connectionString"), ("explaincluster-submit", "token") })
        {
            var (file, secret) = secrets[name];
            Assert.True(Get(secret, "data") is null, $"{file}: the Secret must hold only the stringData placeholder");
            var data = Map(secret, "stringData");
            Assert.Equal([key], Keys(data));
            Assert.Equal("REPLACE-ME", Scalar(data, key));
        }
    }

    [Fact]
    public void SubmitToken_SilosAndCronJob_ReadTheSecretFileTheConfigMapNames()
    {
        var config = Map(K8sObjects().Single(o => Kind(o.Doc) == "ConfigMap").Doc, "data");
        var tokenFile = Scalar(config, "Cluster__SubmitTokenFile")!;
        // The base's workloads (the overlays patch the silo's device, not its volumes).
        foreach (var (file, doc) in K8sObjects().Where(o => Kind(o.Doc) is "Deployment" or "CronJob" && o.File.Contains("/base/", StringComparison.Ordinal)))
        {
            if (Kind(doc) == "Deployment" && Scalar(Map(doc, "metadata"), "name") != "explaincluster-silo") continue;
            var pod = PodSpec(doc);
            var volume = Seq(pod, "volumes").OfType<YamlMappingNode>().Single(v => Get(v, "secret") is YamlMappingNode s && Scalar(s, "secretName") == "explaincluster-submit");
            var container = Seq(pod, "containers").OfType<YamlMappingNode>().Single();
            var mount = Seq(container, "volumeMounts").OfType<YamlMappingNode>().Single(m => Scalar(m, "name") == Scalar(volume, "name"));
            Assert.Equal(Path.GetDirectoryName(tokenFile), Scalar(mount, "mountPath"));
            Assert.Equal("token", Path.GetFileName(tokenFile));
            if (Kind(doc) == "CronJob")
                Assert.Contains(Seq(container, "env").OfType<YamlMappingNode>(), e => Scalar(e, "name") == "EXPLAIN_SUBMIT_TOKEN_FILE" && Scalar(e, "value") == tokenFile);
        }
    }

    // ---- overlays ---------------------------------------------------------------------------------------

    [Fact]
    public void GpuOverlay_SiloPatch_RequestsGpuOnGpuNodes()
    {
        var docs = K8sDocuments(Path.Combine("overlays", "gpu", "silo-gpu.yaml"));
        var pod = PodSpec(Assert.Single(docs, d => Kind(d) == "Deployment"));
        var container = Assert.Single(Seq(pod, "containers").OfType<YamlMappingNode>());
        Assert.Equal("1", Scalar(Map(Map(container, "resources"), "limits"), "nvidia.com/gpu"));
        Assert.Equal("true", Scalar(Map(pod, "nodeSelector"), "nvidia.com/gpu.present"));
        Assert.Contains(Seq(pod, "tolerations").OfType<YamlMappingNode>(),
            t => Scalar(t, "key") == "nvidia.com/gpu" && Scalar(t, "effect") == "NoSchedule");
        Assert.Contains(Seq(container, "env").OfType<YamlMappingNode>(),
            e => Scalar(e, "name") == "ModelHost__Device" && Scalar(e, "value") == "cuda");
        Assert.Contains(OverlayImageTags("gpu"), tag => tag.EndsWith("-cuda", StringComparison.Ordinal));
        Assert.Contains("../../base", OverlayResources("gpu"));
    }

    [Fact]
    public void CpuOverlay_Manifests_RequestNoGpu()
    {
        Assert.Contains("../../base", OverlayResources("cpu"));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(K8sFolder, "overlays", "cpu"), "*.yaml"))
        foreach (var doc in LoadYaml(file))
            Assert.DoesNotContain(Scalars(doc).Concat(AllKeys(doc)), s => s.Contains("nvidia.com/gpu", StringComparison.Ordinal));
        var patch = PodSpec(Assert.Single(K8sDocuments(Path.Combine("overlays", "cpu", "silo-device.yaml")), d => Kind(d) == "Deployment"));
        Assert.Contains(Seq(Assert.Single(Seq(patch, "containers")), "env").OfType<YamlMappingNode>(),
            e => Scalar(e, "name") == "ModelHost__Device" && Scalar(e, "value") == "cpu");
        Assert.DoesNotContain(OverlayImageTags("cpu"), tag => tag.EndsWith("-cuda", StringComparison.Ordinal));
    }

    [Fact]
    public void BaseKustomization_Resources_AllExist()
    {
        var kustomization = Assert.Single(K8sDocuments(Path.Combine("base", "kustomization.yaml")));
        var resources = Seq(kustomization, "resources").Select(r => ((YamlScalarNode)r).Value!).ToList();
        Assert.All(resources, r => Assert.True(File.Exists(Path.Combine(K8sFolder, "base", r)), $"deploy/k8s/base: missing {r}"));
        var listed = Directory.EnumerateFiles(Path.Combine(K8sFolder, "base"), "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml");
        Assert.All(listed, f => Assert.Contains(f, resources));
    }

    // ---- workloads --------------------------------------------------------------------------------------

    [Fact]
    public void SiloDeployment_Spec_HasReplicasGraceAndDownwardAddress()
    {
        var deployment = Assert.Single(K8sDocuments(Path.Combine("base", "silo-deployment.yaml")));
        Assert.Equal("2", Scalar(Map(deployment, "spec"), "replicas"));
        var pod = PodSpec(deployment);
        Assert.Equal("60", Scalar(pod, "terminationGracePeriodSeconds"));
        var container = SiloContainer([deployment]);
        var advertised = Assert.Single(Seq(container, "env").OfType<YamlMappingNode>(), e => Scalar(e, "name") == "Cluster__AdvertisedAddress");
        Assert.Equal("status.podIP", Scalar(Map(Map(advertised, "valueFrom"), "fieldRef"), "fieldPath"));
        var configMap = Map(Assert.Single(Seq(container, "envFrom").OfType<YamlMappingNode>()), "configMapRef");
        Assert.Equal("explaincluster-config", Scalar(configMap, "name"));
    }

    [Fact]
    public void PdbAndNetworkPolicies_Selectors_MatchPodLabels()
    {
        var objects = K8sObjects("base").Select(o => o.Doc).ToList();
        var siloLabels = Labels(Map(Map(Map(Assert.Single(objects, d => Kind(d) == "Deployment" && Name(d) == "explaincluster-silo"), "spec"), "template"), "metadata"));
        var clientLabels = Labels(Map(Map(Map(Map(Map(Assert.Single(objects, d => Kind(d) == "CronJob"), "spec"), "jobTemplate"), "spec"), "template"), "metadata"));
        var redisLabels = Labels(Map(Map(Map(Assert.Single(objects, d => Kind(d) == "Deployment" && Name(d) == "redis"), "spec"), "template"), "metadata"));

        var pdb = Assert.Single(objects, d => Kind(d) == "PodDisruptionBudget");
        Assert.Equal("1", Scalar(Map(pdb, "spec"), "minAvailable"));
        Assert.True(Matches(Map(Map(pdb, "spec"), "selector"), siloLabels), "the PodDisruptionBudget does not select the silo pods");

        var policies = objects.Where(d => Kind(d) == "NetworkPolicy").ToList();
        var siloPolicy = Assert.Single(policies, p => Matches(Map(Map(p, "spec"), "podSelector"), siloLabels));
        var redisPolicy = Assert.Single(policies, p => Matches(Map(Map(p, "spec"), "podSelector"), redisLabels));

        var (cluster, health) = ConfiguredSettings(ConfigMapData());
        var siloRules = Seq(Map(siloPolicy, "spec"), "ingress").OfType<YamlMappingNode>().ToList();
        Assert.True(Allows(siloRules, siloLabels, cluster.SiloPort), "silos must accept silos on the silo port");
        Assert.True(Allows(siloRules, siloLabels, cluster.GatewayPort), "silos must accept silos on the gateway port");
        Assert.True(Allows(siloRules, clientLabels, cluster.GatewayPort), "silos must accept clients on the gateway port");
        Assert.False(Allows(siloRules, clientLabels, cluster.SiloPort), "clients must not reach the silo-to-silo port");
        Assert.True(Allows(siloRules, new Dictionary<string, string>(), health.Port), "the health port must be open to the kubelet");

        var redisRules = Seq(Map(redisPolicy, "spec"), "ingress").OfType<YamlMappingNode>().ToList();
        Assert.True(Allows(redisRules, siloLabels, 6379), "redis must accept silos");
        Assert.True(Allows(redisRules, clientLabels, 6379), "redis must accept clients");
        Assert.False(Allows(redisRules, new Dictionary<string, string>(), 6379), "redis must accept only silos and clients");
    }

    [Fact]
    public void CronJob_Spec_HasScheduleMountsConfigMapAndSubmits()
    {
        var cronJob = Assert.Single(K8sObjects("base"), o => Kind(o.Doc) == "CronJob").Doc;
        var schedule = Scalar(Map(cronJob, "spec"), "schedule");
        Assert.Equal(5, schedule.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        var pod = Map(Map(Map(Map(cronJob, "spec"), "jobTemplate"), "spec"), "template");
        var spec = Map(pod, "spec");
        var container = Assert.Single(Seq(spec, "containers").OfType<YamlMappingNode>());
        var command = Seq(container, "command").Concat(Seq(container, "args")).Select(n => ((YamlScalarNode)n).Value!).ToList();
        Assert.Equal("/app/client/explain", command[0]);
        Assert.Equal("submit", command[1]);
        Assert.Equal("/config/job.json", command[2]);
        Assert.Equal("redis:6379", command[command.IndexOf("--cluster") + 1]);
        Assert.Contains("--watch", command); // completed means the job finished, which compare-demo waits for
        // It follows the job, and drift (exit 4) fails the Job at once: a retry would only submit the night again.
        Assert.Contains("--watch", command);
        var rule = Assert.Single(Seq(Map(Map(Map(Map(cronJob, "spec"), "jobTemplate"), "spec"), "podFailurePolicy"), "rules").OfType<YamlMappingNode>());
        Assert.Equal("FailJob", Scalar(rule, "action"));
        Assert.Equal(["4"], Seq(Map(rule, "onExitCodes"), "values").Select(n => ((YamlScalarNode)n).Value));

        var mount = Assert.Single(Seq(container, "volumeMounts").OfType<YamlMappingNode>(), m => Scalar(m, "mountPath") == "/config");
        var volume = Assert.Single(Seq(spec, "volumes").OfType<YamlMappingNode>(), v => Scalar(v, "name") == Scalar(mount, "name"));
        Assert.Equal("explaincluster-config", Scalar(Map(volume, "configMap"), "name"));
    }

    [Fact]
    public void ConfigMap_JobJson_ParsesAsAJob()
    {
        var data = ConfigMapData();
        Assert.True(data.TryGetValue("job.json", out var json), "the ConfigMap has no job.json");
        var job = JobFile.Parse(json, "/config");
        Assert.StartsWith("az://", job.Output, StringComparison.Ordinal);
        // Each night its own folder, and a history that lists them (the second night is not refused, the first not erased).
        Assert.Contains("{date}", job.Output, StringComparison.Ordinal);
        Assert.StartsWith("az://", job.History, StringComparison.Ordinal);
        Assert.Equal("redis", data["Cluster__Provider"]);
        Assert.Equal("redis:6379", data["Cluster__Redis"]);
        Assert.Equal(new ClusterSettings().ClusterId, data["Cluster__ClusterId"]);
        Assert.Equal("true", data["ModelHost__Enabled"]);
        Assert.Equal("8080", data["Health__Port"]);
    }

    // ---- compose ----------------------------------------------------------------------------------------

    [Fact]
    public void Compose_Services_AreTheClusterAndItsDependencies()
    {
        var services = Map(ComposeRoot(), "services");
        Assert.Equal(["azurite", "compare-demo", "jaeger", "otel-collector", "redis", "silo1", "silo2", "submit-demo"], Keys(services).Order());
        var demo = ComposeService("submit-demo");
        Assert.Equal("no", Scalar(demo, "restart"));
        var dependsOn = Map(demo, "depends_on");
        foreach (var silo in SiloServices) Assert.Equal("service_healthy", Scalar(Map(dependsOn, silo), "condition"));
        var command = Seq(demo, "command").Select(n => ((YamlScalarNode)n).Value).ToList();
        Assert.Equal("submit", command[0]);
        Assert.Equal("redis:6379", command[command.IndexOf("--cluster") + 1]);

        foreach (var silo in SiloServices)
        {
            var env = ComposeEnvironment(ComposeService(silo));
            Assert.Contains("BlobEndpoint=http://azurite:10000/devstoreaccount1", env["Storage__ConnectionString"]);
            Assert.Equal("http://otel-collector:4317", env["OpenTelemetry__Otlp__Endpoint"]);
        }
    }

    [Fact]
    public void Compose_CompareDemo_ComparesTheDemoRunWithASecondRun_AfterItCompleted()
    {
        var compare = ComposeService("compare-demo");
        Assert.Equal("no", Scalar(compare, "restart"));
        Assert.Equal("service_completed_successfully", Scalar(Map(Map(compare, "depends_on"), "submit-demo"), "condition"));
        Assert.Equal(["bash", "-c"], Seq(compare, "entrypoint").Select(n => ((YamlScalarNode)n).Value!));
        var script = ((YamlScalarNode)Assert.Single(Seq(compare, "command"))).Value!;
        // Two commands chained: the second run (waited for), then the comparison of the demo's output with it.
        var steps = script.Split(" && ");
        Assert.Equal(2, steps.Length);
        var submit = steps[0].Split(' ');
        Assert.Equal(["/app/client/explain", "submit"], submit[..2]);
        Assert.Contains("--watch", submit);
        var second = submit[Array.IndexOf(submit, "--out") + 1];
        var demo = Seq(ComposeService("submit-demo"), "command").Select(n => ((YamlScalarNode)n).Value!).ToList();
        var first = demo[demo.IndexOf("--out") + 1];
        var compared = steps[1].Split(' ');
        Assert.Equal(["exec", "/app/client/explain", "compare", first, second, "--out"], compared[..6]);
        Assert.StartsWith("az://results/", compared[6]);
        Assert.NotEqual(first, second);
        // explain compare reads both runs and runs both models itself: it needs the silos' storage.
        Assert.Equal(ComposeEnvironment(ComposeService("silo1"))["Storage__ConnectionString"], ComposeEnvironment(compare)["Storage__ConnectionString"]);
    }

    [Fact]
    public void OtelCollector_Config_SendsTracesFromOtlpToJaeger()
    {
        var config = Assert.Single(LoadYaml(Path.Combine(Root, "deploy", "otel-collector.yaml")));
        Assert.EndsWith(":4317", Scalar(Map(Map(Map(Map(config, "receivers"), "otlp"), "protocols"), "grpc"), "endpoint"));
        Assert.Equal("jaeger:4317", Scalar(Map(Map(config, "exporters"), "otlp"), "endpoint"));
        var traces = Map(Map(Map(config, "service"), "pipelines"), "traces");
        Assert.Contains("otlp", Seq(traces, "receivers").Select(n => ((YamlScalarNode)n).Value));
        Assert.Contains("otlp", Seq(traces, "exporters").Select(n => ((YamlScalarNode)n).Value));
    }

    // ---- Dockerfile -------------------------------------------------------------------------------------

    [Fact]
    public void Dockerfile_Lines_HaveStagesLibTorchArgAndPublishes()
    {
        var lines = DockerfileInstructions(Path.Combine(Root, "Dockerfile"));
        Assert.True(lines.Count(l => l.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase)) >= 2, "the Dockerfile needs a build and a runtime stage");
        Assert.Contains(lines, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", StringComparison.Ordinal));
        Assert.Contains(lines, l => l is "ARG LIBTORCH=cpu");
        Assert.Contains(lines, l => l.Contains("dotnet publish src/Silo", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("dotnet publish src/Client", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("LibTorchPackage=libtorch-cuda-12.8-linux-x64", StringComparison.Ordinal));
        Assert.Contains(lines, l => l is "ENV ModelHost__Device=cuda");
        Assert.Contains(lines, l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) && l.Contains("/app/silo/explain-silo", StringComparison.Ordinal));
        var exposed = Assert.Single(lines, l => l.StartsWith("EXPOSE ", StringComparison.Ordinal)).Split(' ').Skip(1).Select(int.Parse).Order();
        var cluster = new ClusterSettings();
        Assert.Equal(new[] { cluster.SiloPort, cluster.GatewayPort, new HealthSettings().Port }.Order(), exposed);
    }

    // ---- settings ---------------------------------------------------------------------------------------

    /// <summary>Why <paramref name="name"/> (<c>Section__Key</c>) set in <paramref name="file"/> is no setting the code reads; null when it is.</summary>
    private static string? SettingProblem(string file, string name)
    {
        var parts = name.Split("__", 2);
        if (parts.Length != 2 || parts[1].Length == 0) return $"{file}: {name} is not of the form Section__Key";
        var (section, key) = (parts[0], parts[1]);
        var known = section switch
        {
            ClusterSettings.Section => Settable(typeof(ClusterSettings), key),
            ModelHostOptions.Section => key == "Enabled" || key.StartsWith("ModelLocations__", StringComparison.Ordinal) || Settable(typeof(ModelHostOptions), key),
            "Storage" => key == "ConnectionString" || key.StartsWith("LocalRoots__", StringComparison.Ordinal),
            "OpenTelemetry" => key == "Otlp__Endpoint",
            HealthSettings.Section => Settable(typeof(HealthSettings), key),
            _ => (bool?)null,
        };
        return known switch
        {
            null => $"{file}: {name}: no configuration section \"{section}\"",
            false => $"{file}: {name}: section \"{section}\" has no settable key \"{key}\"",
            true => null,
        };
    }

    private static bool Settable(Type type, string key) =>
        type.GetProperty(key, BindingFlags.Public | BindingFlags.Instance) is { CanWrite: true } p && p.SetMethod!.IsPublic;

    /// <summary>ClusterSettings and HealthSettings as the given environment would bind them (ports only).</summary>
    private static (ClusterSettings Cluster, HealthSettings Health) ConfiguredSettings(IReadOnlyDictionary<string, string> env)
    {
        var cluster = new ClusterSettings();
        var health = new HealthSettings();
        if (env.TryGetValue("Cluster__SiloPort", out var silo)) cluster.SiloPort = int.Parse(silo);
        if (env.TryGetValue("Cluster__GatewayPort", out var gateway)) cluster.GatewayPort = int.Parse(gateway);
        if (env.TryGetValue("Health__Port", out var port)) health.Port = int.Parse(port);
        return (cluster, health);
    }

    /// <summary>Every <c>Section__Key</c> variable set in compose, in a ConfigMap, or on a Deployment's or CronJob's containers.</summary>
    private static IEnumerable<(string File, string Name)> EnvironmentVariables()
    {
        var services = Map(ComposeRoot(), "services");
        foreach (var service in Keys(services))
        foreach (var name in ComposeEnvironment(ComposeService(service)).Keys)
            if (name.Contains("__", StringComparison.Ordinal)) yield return ($"docker-compose.yml (service {service})", name);

        foreach (var (file, doc) in K8sObjects())
        {
            if (Kind(doc) == "ConfigMap")
            {
                foreach (var key in Keys(Map(doc, "data")))
                    if (key.Contains("__", StringComparison.Ordinal)) yield return (file, key);
            }
            foreach (var env in WorkloadContainers(doc).SelectMany(c => Seq(c, "env")).OfType<YamlMappingNode>())
            {
                var name = Scalar(env, "name");
                if (name.Contains("__", StringComparison.Ordinal)) yield return (file, name);
            }
        }
    }

    // ---- compose ----------------------------------------------------------------------------------------

    private static YamlMappingNode ComposeRoot() => (YamlMappingNode)Assert.Single(LoadYaml(ComposeFile));

    /// <summary>A compose service with YAML merge keys (<c>&lt;&lt;: *anchor</c>) applied: its own keys win.</summary>
    private static YamlMappingNode ComposeService(string name)
    {
        var service = Get(Map(ComposeRoot(), "services"), name) as YamlMappingNode
            ?? throw new Xunit.Sdk.XunitException($"docker-compose.yml has no service {name}");
        return Merged(service);
    }

    private static YamlMappingNode Merged(YamlMappingNode node)
    {
        var merged = new YamlMappingNode();
        List<YamlMappingNode> bases = Get(node, "<<") switch
        {
            YamlMappingNode m => [m],
            YamlSequenceNode s => s.Children.OfType<YamlMappingNode>().ToList(),
            _ => [],
        };
        foreach (var b in bases)
        foreach (var (key, value) in Merged(b).Children)
            merged.Children[key] = value;
        foreach (var (key, value) in node.Children)
            if (key is not YamlScalarNode { Value: "<<" }) merged.Children[key] = value;
        return merged;
    }

    /// <summary>A compose service's environment, written as a mapping or as a list of NAME=value.</summary>
    private static Dictionary<string, string> ComposeEnvironment(YamlMappingNode service) => Get(service, "environment") switch
    {
        YamlMappingNode m => m.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value ?? ""),
        YamlSequenceNode s => s.Children.Select(c => ((YamlScalarNode)c).Value!.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""),
        _ => [],
    };

    // ---- Kubernetes -------------------------------------------------------------------------------------

    private static List<YamlMappingNode> K8sDocuments(string relative) =>
        LoadYaml(Path.Combine(K8sFolder, relative)).OfType<YamlMappingNode>().ToList();

    /// <summary>Every document with a kind in every YAML file under deploy/k8s, with the file it came from.</summary>
    private static IEnumerable<(string File, YamlMappingNode Doc)> K8sObjects(string under = "")
    {
        var folder = Path.Combine(K8sFolder, under);
        var files = Directory.EnumerateFiles(folder, "*.yaml", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(folder, "*.yml", SearchOption.AllDirectories)).Order().ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        foreach (var doc in LoadYaml(file).OfType<YamlMappingNode>())
            if (Get(doc, "kind") is YamlScalarNode) yield return (Path.GetRelativePath(Root, file), doc);
    }

    private static Dictionary<string, string> ConfigMapData()
    {
        var configMap = Assert.Single(K8sObjects("base"), o => Kind(o.Doc) == "ConfigMap" && Name(o.Doc) == "explaincluster-config").Doc;
        return Map(configMap, "data").Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value ?? "");
    }

    private static YamlMappingNode PodSpec(YamlMappingNode workload) => Kind(workload) switch
    {
        "CronJob" => Map(Map(Map(Map(Map(workload, "spec"), "jobTemplate"), "spec"), "template"), "spec"),
        _ => Map(Map(Map(workload, "spec"), "template"), "spec"),
    };

    private static IEnumerable<YamlMappingNode> WorkloadContainers(YamlMappingNode doc) =>
        Kind(doc) is "Deployment" or "StatefulSet" or "DaemonSet" or "Job" or "CronJob"
            ? Seq(PodSpec(doc), "containers").Concat(Seq(PodSpec(doc), "initContainers")).OfType<YamlMappingNode>()
            : [];

    private static YamlMappingNode SiloContainer(IEnumerable<YamlMappingNode> docs)
    {
        var deployment = Assert.Single(docs, d => Kind(d) == "Deployment" && Name(d) == "explaincluster-silo");
        return Assert.Single(Seq(PodSpec(deployment), "containers").OfType<YamlMappingNode>(), c => Scalar(c, "name") == "silo");
    }

    private static List<string> OverlayResources(string overlay) =>
        Seq(Assert.Single(K8sDocuments(Path.Combine("overlays", overlay, "kustomization.yaml"))), "resources").Select(n => ((YamlScalarNode)n).Value!).ToList();

    private static List<string> OverlayImageTags(string overlay) =>
        Seq(Assert.Single(K8sDocuments(Path.Combine("overlays", overlay, "kustomization.yaml"))), "images")
            .OfType<YamlMappingNode>().Select(i => Scalar(i, "newTag")).ToList();

    private static Dictionary<string, string> Labels(YamlMappingNode metadata) =>
        Map(metadata, "labels").Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value!);

    /// <summary>Whether a label selector (matchLabels only) selects a pod with <paramref name="labels"/>.</summary>
    private static bool Matches(YamlMappingNode selector, IReadOnlyDictionary<string, string> labels) =>
        Map(selector, "matchLabels").Children.All(c => labels.TryGetValue(((YamlScalarNode)c.Key).Value!, out var v) && v == ((YamlScalarNode)c.Value).Value);

    /// <summary>Whether NetworkPolicy ingress rules let a pod with <paramref name="labels"/> reach <paramref name="port"/>.</summary>
    private static bool Allows(IEnumerable<YamlMappingNode> rules, IReadOnlyDictionary<string, string> labels, int port) => rules.Any(rule =>
    {
        var from = Seq(rule, "from").OfType<YamlMappingNode>().ToList();
        var ports = Seq(rule, "ports").OfType<YamlMappingNode>().Select(p => int.Parse(Scalar(p, "port"))).ToList();
        var peerOk = from.Count == 0 || from.Any(peer => Get(peer, "podSelector") is YamlMappingNode s && Get(peer, "namespaceSelector") is null && Matches(s, labels));
        return peerOk && (ports.Count == 0 || ports.Contains(port));
    });

    // ---- YAML -------------------------------------------------------------------------------------------

    private static List<YamlNode> LoadYaml(string path)
    {
        Assert.True(File.Exists(path), $"missing {Path.GetRelativePath(Root, path)}");
        var stream = new YamlStream();
        using (var reader = new StreamReader(path)) stream.Load(reader);
        return stream.Documents.Select(d => d.RootNode).ToList();
    }

    private static YamlNode? Get(YamlNode node, string key) =>
        node is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static YamlMappingNode Map(YamlNode node, string key) =>
        Get(node, key) as YamlMappingNode ?? throw new Xunit.Sdk.XunitException($"no mapping \"{key}\" in {Describe(node)}");

    private static IEnumerable<YamlNode> Seq(YamlNode node, string key) =>
        Get(node, key) is YamlSequenceNode s ? s.Children : [];

    private static string Scalar(YamlNode node, string key) =>
        (Get(node, key) as YamlScalarNode)?.Value ?? throw new Xunit.Sdk.XunitException($"no scalar \"{key}\" in {Describe(node)}");

    private static List<string> Keys(YamlMappingNode node) => node.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();

    private static string Kind(YamlMappingNode doc) => (Get(doc, "kind") as YamlScalarNode)?.Value ?? "";

    private static string Name(YamlMappingNode doc) => Get(doc, "metadata") is YamlMappingNode m ? (Get(m, "name") as YamlScalarNode)?.Value ?? "" : "";

    /// <summary>Every scalar value (not key) anywhere under <paramref name="node"/>.</summary>
    private static IEnumerable<string> Scalars(YamlNode node) => node switch
    {
        YamlScalarNode s => s.Value is { } v ? [v] : [],
        YamlSequenceNode s => s.Children.SelectMany(Scalars),
        YamlMappingNode m => m.Children.Values.SelectMany(Scalars),
        _ => [],
    };

    /// <summary>Every mapping key anywhere under <paramref name="node"/>.</summary>
    private static IEnumerable<string> AllKeys(YamlNode node) => node switch
    {
        YamlSequenceNode s => s.Children.SelectMany(AllKeys),
        YamlMappingNode m => m.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "").Concat(m.Children.Values.SelectMany(AllKeys)),
        _ => [],
    };

    private static string Describe(YamlNode node) => $"the mapping at line {node.Start.Line}";

    /// <summary>The Dockerfile's instructions: comments and blank lines dropped, continuations joined.</summary>
    private static List<string> DockerfileInstructions(string path)
    {
        Assert.True(File.Exists(path), "missing Dockerfile");
        var instructions = new List<string>();
        var current = "";
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.EndsWith('\\'))
            {
                current += line[..^1].Trim() + " ";
                continue;
            }
            instructions.Add(current + line);
            current = "";
        }
        if (current.Length > 0) instructions.Add(current.Trim());
        return instructions;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ExplainCluster.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no ExplainCluster.sln above {AppContext.BaseDirectory}");
    }
}
