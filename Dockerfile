# ExplainCluster: one image with the silo (entrypoint) and the CLI client (/app/client/explain).
#
#   docker build -t explaincluster .                          # CPU libtorch (default)
#   docker build -t explaincluster:cuda --build-arg LIBTORCH=cuda .
#
# LIBTORCH switches the libtorch native package: cpu -> libtorch-cpu-linux-x64 (the project's default),
# cuda -> libtorch-cuda-12.8-linux-x64 (both 2.10.0, Directory.Packages.props), via the MSBuild
# property LibTorchPackage declared in src/Engine/Engine.csproj.

ARG LIBTORCH=cpu

# ---- build ------------------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG LIBTORCH
WORKDIR /src
COPY . .
# The TorchSharp GLIBCXX fix (build/TorchSharpGlibcxxFix.targets, imported by Directory.Build.targets)
# runs after every build and publish on Linux, so the libLibTorchSharp.so copied into /app/silo and
# /app/client below already has its GLIBCXX_3.4.32 requirement marked weak. Note: .NET 10's
# mcr.microsoft.com/dotnet/aspnet:10.0 is Ubuntu 24.04 "noble" (no Debian images for .NET 10), whose
# libstdc++ is new enough anyway; the fix is harmless there and needed on older glibc/libstdc++ bases.
RUN set -eu; \
    case "$LIBTORCH" in \
      cpu)  LIBTORCH_PROP="" ;; \
      cuda) LIBTORCH_PROP="-p:LibTorchPackage=libtorch-cuda-12.8-linux-x64" ;; \
      *)    echo "LIBTORCH must be cpu or cuda, not '$LIBTORCH'" >&2; exit 1 ;; \
    esac; \
    dotnet publish src/Silo -c Release -o /app/silo $LIBTORCH_PROP; \
    dotnet publish src/Client -c Release -o /app/client $LIBTORCH_PROP

# ---- runtime ----------------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app/silo /app/silo
COPY --from=build /app/client /app/client
# 11111 silo-to-silo, 30000 gateway (clients), 8080 health (/health/live, /health/ready).
EXPOSE 11111 30000 8080
ENTRYPOINT ["/app/silo/explain-silo"]

# The cpu variant keeps the code's default ModelHost:Device ("cpu").
FROM runtime AS runtime-cpu

# Only the cuda variant sets the model host's device.
FROM runtime AS runtime-cuda
ENV ModelHost__Device=cuda

# LIBTORCH (ARG) picks the variant, and with it the ENV above.
FROM runtime-${LIBTORCH} AS final
