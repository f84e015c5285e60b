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
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs {
          inherit system;
          overlays = [ (import rust-overlay) ];
        };
        lib = pkgs.lib;

        # The toolchain of rust-toolchain.toml, plus the Lambda's target.
        lambdaTarget = "aarch64-unknown-linux-musl";
        toolchain = (pkgs.rust-bin.fromRustupToolchainFile ./rust-toolchain.toml).override {
          targets = [ lambdaTarget ];
        };
        craneLib = (crane.mkLib pkgs).overrideToolchain (_: toolchain);

        # Cargo sources plus what the build and tests read: config files, fixtures,
        # snapshots, the emulator launcher.
        src = lib.fileset.toSource {
          root = ./.;
          fileset = lib.fileset.unions [
            (craneLib.fileset.commonCargoSources ./.)
            ./config/dev.toml
            ./config/prod.toml
            (lib.fileset.fileFilter (f: f.hasExt "json" || f.hasExt "snap" || f.hasExt "zip" || f.hasExt "toml") ./exporter/tests)
            (lib.fileset.fileFilter (f: f.hasExt "snap" || f.hasExt "zip" || f.hasExt "toml") ./infra/tests)
            (lib.fileset.fileFilter (f: f.hasExt "snap") ./athenaq/tests)
            ./testkit/moto_server.py
          ];
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

        # The Lambda: a static arm64 binary named bootstrap, zipped.
        cross = pkgs.pkgsCross.aarch64-multiplatform-musl;
        exporterBinary = craneLib.buildPackage (commonArgs // {
          pname = "exporter";
          cargoExtraArgs = "--locked -p s3exports-exporter --bin exporter";
          CARGO_BUILD_TARGET = lambdaTarget;
          CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER = "${cross.stdenv.cc}/bin/${cross.stdenv.cc.targetPrefix}cc";
          HOST_CC = "${pkgs.stdenv.cc}/bin/cc";
          doCheck = false;
        });
        exporter = pkgs.runCommand "exporter-lambda-zip" { nativeBuildInputs = [ pkgs.zip ]; } ''
          mkdir -p $out
          cp ${exporterBinary}/bin/exporter bootstrap
          chmod 0755 bootstrap
          zip -9 -X $out/bootstrap.zip bootstrap
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

        python = pkgs.python3.withPackages (ps: [ ps.moto ps.boto3 ]) ;
        testArgs = commonArgs // {
          inherit cargoArtifacts;
          nativeCheckInputs = [ python pkgs.python3Packages.cfn-lint pkgs.checkov ];
          MOTO_PYTHON = "${python}/bin/python";
        };
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
          tests = craneLib.cargoNextest (testArgs // { cargoNextestExtraArgs = "--workspace"; });
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
            python
          ];
          MOTO_PYTHON = "${python}/bin/python";
        };
      });
}
