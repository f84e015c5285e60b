{
  description = "rds-snapshot-s3exports: every RDS snapshot as encrypted, catalogued, queryable Parquet";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
    crane.url = "github:ipetkov/crane";
    flake-utils.url = "github:numtide/flake-utils";
    rust-overlay.url = "github:oxalica/rust-overlay";
    rust-overlay.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = { self, nixpkgs, crane, flake-utils, rust-overlay }:
    # Linux only: the Lambda is cross-built with a Linux cross toolchain, and the emulator tests
    # need loopback networking, which the Linux sandbox allows.
    flake-utils.lib.eachSystem [ "x86_64-linux" "aarch64-linux" ] (system:
      let
        pkgs = import nixpkgs {
          inherit system;
          overlays = [ (import rust-overlay) ];
        };
        lib = pkgs.lib;

        # The toolchain of rust-toolchain.toml, plus the Lambda's target (musl, for the Nix
        # build) and the one cargo-lambda builds for (gnu, for scripts/package in `nix develop`).
        lambdaTarget = "aarch64-unknown-linux-musl";
        toolchain = (pkgs.rust-bin.fromRustupToolchainFile ./rust-toolchain.toml).override {
          targets = [ lambdaTarget "aarch64-unknown-linux-gnu" ];
        };
        craneLib = (crane.mkLib pkgs).overrideToolchain (_: toolchain);

        # Every tracked file but what the build must not see (nix/source.nix), so fixtures the
        # tests read (testkit/aws-examples, tests/fixtures, snapshots, ...) are in without a
        # list to keep up; scripts/check-flake checks the exclusions against `git ls-files`.
        source = import ./nix/source.nix;
        src = lib.cleanSourceWith {
          src = ./.;
          name = "source";
          filter = source.filter ./.;
        };

        commonArgs = {
          inherit src;
          strictDeps = true;
          pname = "rds-snapshot-s3exports";
          version = "0.1.0";
        };
        cargoArtifacts = craneLib.buildDepsOnly commonArgs;

        crate = name: craneLib.buildPackage (commonArgs // {
          inherit cargoArtifacts;
          pname = name;
          cargoExtraArgs = "--locked -p ${name}";
          doCheck = false;
        });
        athenaq = crate "athenaq";
        infra = crate "s3exports-infra";

        # The Lambda: a static arm64 binary named bootstrap, zipped. `pkgs` is the native set, so
        # crane adds no cross settings: cc-rs (ring, aws-lc-sys) reads CC_/CXX_/AR_<target> for
        # the target's C and assembly, HOST_CC for build scripts, and the linker comes from the
        # cross cc. The dependency-only derivation needs the same settings, so it has its own.
        cross = pkgs.pkgsCross.aarch64-multiplatform-musl;
        crossCc = cross.stdenv.cc;
        crossPrefix = "${crossCc}/bin/${crossCc.targetPrefix}";
        exporterArgs = commonArgs // {
          pname = "exporter";
          cargoExtraArgs = "--locked -p s3exports-exporter --bin exporter";
          CARGO_BUILD_TARGET = lambdaTarget;
          CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER = "${crossPrefix}cc";
          CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS = "-C target-feature=+crt-static";
          CC_aarch64_unknown_linux_musl = "${crossPrefix}cc";
          CXX_aarch64_unknown_linux_musl = "${crossPrefix}c++";
          AR_aarch64_unknown_linux_musl = "${crossCc.bintools}/bin/${crossCc.targetPrefix}ar";
          HOST_CC = "${pkgs.stdenv.cc}/bin/cc";
          doCheck = false;
        };
        exporterBinary = craneLib.buildPackage (exporterArgs // {
          cargoArtifacts = craneLib.buildDepsOnly exporterArgs;
        });
        # A zip that is byte-identical wherever it is built (infra uploads code under its sha256):
        # fixed mtime and mode, no extra attributes. It refuses a bootstrap that Lambda's arm64
        # runtime could not start: another architecture, or a dynamic binary.
        exporter = pkgs.runCommand "exporter-lambda-zip" { nativeBuildInputs = [ pkgs.zip pkgs.binutils ]; } ''
          mkdir -p $out
          cp ${exporterBinary}/bin/exporter bootstrap
          if ! readelf -h bootstrap | grep -q 'Machine:.*AArch64'; then
            echo "bootstrap is not an AArch64 binary:" >&2; readelf -h bootstrap >&2; exit 1
          fi
          if readelf -l bootstrap | grep -q 'program interpreter'; then
            echo "bootstrap is dynamically linked (it has a program interpreter); Lambda needs it static" >&2; exit 1
          fi
          chmod 0755 bootstrap
          TZ=UTC touch -t 198001010000.00 bootstrap
          TZ=UTC zip -9 -X $out/bootstrap.zip bootstrap
        '';

        templates = env: pkgs.runCommand "templates-${env}" { } ''
          ${infra}/bin/infra --env ${env} synth --out $out
        '';

        deploy = env: pkgs.writeShellApplication {
          name = "deploy-${env}";
          runtimeInputs = [ infra ];
          text = ''
            exec infra --env ${env} deploy --code ${exporter}/bootstrap.zip "$@"
          '';
        };

        # moto_server needs flask and flask-cors, which nixpkgs keeps in moto's `server` extra.
        # testkit/moto_server.py patches moto 5.2.x and refuses to start on another version.
        python = pkgs.python3.withPackages (ps: [ ps.moto ps.boto3 ] ++ ps.moto.optional-dependencies.server);
        # parliament (the IAM linter of scripts/lint_iam.py), which nixpkgs does not package, at
        # the version of scripts/requirements.txt, with its two dependencies from PyPI.
        fromPypi = ps: pname: version: hash: propagatedBuildInputs: ps.buildPythonPackage {
          inherit pname version propagatedBuildInputs;
          format = "setuptools";
          src = ps.fetchPypi { inherit pname version hash; };
          doCheck = false;
        };
        parliament = ps:
          let
            kwonly-args = fromPypi ps "kwonly-args" "1.0.10" "sha256-WcheH6YmwOrVQ4tk8QtT3aJFngBC6iQljJ3CEVl5pZg=" [ ];
            json-cfg = fromPypi ps "json-cfg" "0.4.2" "sha256-090aswsWo7skm26zX8xCGY+WVvMxJ+NqP621439Q1Fs=" [ kwonly-args ];
          in
          fromPypi ps "parliament" "1.6.4" "sha256-6muTDeKv0vFZHVYktWuMk2HnRsds5QqVhsqyCQVN+kw="
            [ ps.boto3 ps.jmespath ps.pyyaml json-cfg ];
        # The shell's Python: the emulator's and the IAM linter's.
        shellPython = pkgs.python3.withPackages (ps:
          [ ps.moto ps.boto3 (parliament ps) ] ++ ps.moto.optional-dependencies.server);
        # The rehydrate tests start their own PostgreSQL and MariaDB servers; testkit finds
        # PostgreSQL's initdb and pg_ctl in PG_BIN, MariaDB's server on PATH.
        databases = [ pkgs.postgresql pkgs.mariadb ];
        pgBin = "${pkgs.postgresql}/bin";
        # Tests build in the dev profile (crane defaults to release: fat LTO for every test
        # binary), with dependency artifacts of that profile. The sandbox has no /etc/ssl, and
        # the SDK's root certificate loading asserts in debug builds without a bundle.
        testArgs = commonArgs // {
          CARGO_PROFILE = "dev";
          SSL_CERT_FILE = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";
          nativeCheckInputs = [ python pkgs.python3Packages.cfn-lint pkgs.checkov ];
          MOTO_PYTHON = "${python}/bin/python";
        };
        testArtifacts = craneLib.buildDepsOnly testArgs;
      in
      {
        packages = {
          inherit exporter athenaq infra;
          templates-dev = templates "dev";
          templates-prod = templates "prod";
          default = athenaq;
        };

        apps = {
          deploy-dev = flake-utils.lib.mkApp { drv = deploy "dev"; };
          deploy-prod = flake-utils.lib.mkApp { drv = deploy "prod"; };
          athenaq = flake-utils.lib.mkApp { drv = athenaq; };
          default = flake-utils.lib.mkApp { drv = athenaq; };
        };

        checks = {
          inherit athenaq infra exporter;
          clippy = craneLib.cargoClippy (commonArgs // {
            inherit cargoArtifacts;
            cargoClippyExtraArgs = "--workspace --all-targets -- -D warnings";
          });
          tests = craneLib.cargoNextest (testArgs // {
            cargoArtifacts = testArtifacts;
            # Only here, not in testArgs: the dependency build needs no database server.
            nativeBuildInputs = databases;
            PG_BIN = pgBin;
            cargoNextestExtraArgs = "--workspace";
          });
        };

        devShells.default = craneLib.devShell {
          checks = self.checks.${system};
          packages = [
            pkgs.cargo-lambda
            pkgs.zig
            pkgs.cargo-nextest
            pkgs.awscli2
            pkgs.python3Packages.cfn-lint
            pkgs.checkov
            shellPython
          ] ++ databases;
          # scripts/venv.sh uses these instead of making a .venv inside the shell.
          MOTO_PYTHON = "${shellPython}/bin/python";
          PG_BIN = pgBin;
        };
      });
}
