{
  description = "gen: find and ship a working PyTorch + CUDA + flash-attention image for a GPU";

  # The only input. There is no committed flake.lock: run `nix flake lock` on a machine with
  # network access to pin it (see README, "Nix").
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      pyproject = builtins.fromTOML (builtins.readFile ./pyproject.toml);
      project = pyproject.project;

      # "httpx[socks]>=0.27" -> "httpx": the PEP 503 name, which is the python3Packages attribute.
      reqName = req:
        let m = builtins.match "[[:space:]]*([A-Za-z0-9][A-Za-z0-9._-]*).*" req;
        in lib.toLower (builtins.replaceStrings [ "_" "." ] [ "-" "-" ] (builtins.head m));
      pyPkgs = ps: reqs: map (req: ps.${reqName req}) reqs;
      # ruff is a binary for the dev shell (pkgs.ruff), not a Python library the tests import.
      testReqs = builtins.filter (req: reqName req != "ruff") project.optional-dependencies.test;

      # generated/variants.json is written by `gen render`: the kept variants of the default
      # matrix, sorted by id. Read lazily, so everything else works before the first render.
      variantsFile = ./generated/variants.json;
      variantsData =
        if !builtins.pathExists variantsFile then
          throw "generated/variants.json is missing: run `gen render` (and commit generated/)"
        else
          let data = builtins.fromJSON (builtins.readFile variantsFile);
          in if data.schema_version == 1 then data
             else throw "generated/variants.json: schema_version ${toString data.schema_version}, this flake reads 1";

      genFor = pkgs:
        let py = pkgs.python3Packages;
        in py.buildPythonApplication {
          pname = project.name;
          inherit (project) version;
          pyproject = true;
          src = ./.;
          build-system = pyPkgs py pyproject.build-system.requires;
          dependencies = pyPkgs py project.dependencies;
          nativeCheckInputs = [ py.pytestCheckHook ] ++ pyPkgs py testReqs;
          # No network in the build sandbox: deselect what needs PyPI, a GPU or external tools
          # (pytestCheckHook turns this into -m "not live and not gpu and not integration").
          disabledTestMarks = [ "live" "gpu" "integration" ];
          preCheck = "export HOME=$TMPDIR";
          pythonImportsCheck = [ "generator" ];
          meta = {
            inherit (project) description;
            mainProgram = "gen";
          };
        };
    in
    {
      packages = forAllSystems (system: pkgs: rec {
        gen = genFor pkgs;
        default = gen;
      });

      apps = forAllSystems (system: pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${system}.gen}/bin/gen";
          meta.description = project.description;
        };
      });

      devShells = forAllSystems (system: pkgs: {
        default = pkgs.mkShell {
          packages = [
            (pkgs.python3.withPackages (ps: pyPkgs ps (project.dependencies ++ testReqs)))
            pkgs.tox
            pkgs.ruff
          ];
        };
      });

      checks = forAllSystems (system: pkgs: {
        gen = self.packages.${system}.gen;
        # generated/ must be what `gen render` makes from matrix.yaml and the lock.
        render-check = pkgs.runCommand "gen-render-check"
          { nativeBuildInputs = [ self.packages.${system}.gen ]; } ''
          cp -r ${./.} repo && chmod -R u+w repo && cd repo
          export HOME=$TMPDIR
          gen render --check --allow-unverified
          touch $out
        '';
      });

      # Nix code can iterate the matrix: `lib.variants` is the list of kept variants (attrsets
      # with id, target, base, strategy, torch, cuda, python, flash_attn), sorted by id;
      # `lib.variantsById` is the same keyed by id.
      lib = {
        variants = variantsData.variants;
        variantsById = builtins.listToAttrs
          (map (v: { name = v.id; value = v; }) variantsData.variants);
      };
    };
}
