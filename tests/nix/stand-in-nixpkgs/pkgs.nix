# legacyPackages.<system> of the stand-in: only what gen's flake.nix uses. Each package is a
# real derivation built by /bin/sh with the host's coreutils (the tests turn the sandbox off).
{ system }:
let
  # tests/test_flake.py writes host.json into ITS COPY of this directory: `python`, the
  # absolute path of the Python that runs the tests (it has gen's dependencies installed), and
  # `pythonPackages`, the PEP 503 names of gen's requirements, so a dependency added to
  # pyproject.toml needs no edit here. The stand-in's "python" is that interpreter; without
  # host.json it is whatever python3 is on PATH.
  hostJson = ./host.json;
  host =
    if builtins.pathExists hostJson
    then builtins.fromJSON (builtins.readFile hostJson)
    else { };
  hostPython = host.python or "python3";

  binPath = deps: builtins.concatStringsSep ":" (map (d: "${d}/bin") deps ++ [ "/usr/bin" "/bin" ]);

  # A derivation whose builder is `/bin/sh -euc script`; `deps` go on PATH; extra attributes
  # become environment variables, as in stdenv.mkDerivation.
  mk = name: script: { deps ? [ ], ... }@env:
    derivation (builtins.removeAttrs env [ "deps" ] // {
      inherit name system;
      builder = "/bin/sh";
      args = [ "-euc" script ];
      PATH = binPath deps;
    });

  # A leaf package: records what it stands in for.
  stub = name: mk "${name}-stand-in" ''
    mkdir -p $out/nix-support
    echo "stand-in for ${name}" > $out/nix-support/stand-in
  '' { };

  pyNames = [
    "setuptools" "click" "jinja2" "pyyaml" "packaging" "httpx"
    "pytest" "pytest-timeout" "hypothesis"
  ] ++ host.pythonPackages or [ ];

  # buildPythonApplication: asserts the arguments a pyproject build needs, "installs" the
  # package directories listed in src/pyproject.toml, writes one wrapper per [project.scripts]
  # entry that runs it with the host Python, and really runs pythonImportsCheck. The check
  # phase is NOT run (no pytest in here): disabledTestMarks is recorded in nix-support/.
  buildPythonApplication =
    { pname, version, src, pyproject ? false, build-system ? [ ], dependencies ? [ ]
    , nativeCheckInputs ? [ ], disabledTestMarks ? [ ], pythonImportsCheck ? [ ], meta ? { }
    , ... }@args:
    assert pyproject || throw "stand-in buildPythonApplication: pass pyproject = true";
    assert build-system != [ ] || throw "stand-in buildPythonApplication: empty build-system";
    let
      toml = builtins.fromTOML (builtins.readFile (src + "/pyproject.toml"));
      scripts = toml.project.scripts or { };
      wrapper = name: entry:
        let
          parts = builtins.match "([A-Za-z0-9_.]+):([A-Za-z0-9_]+)" entry;
          module = builtins.elemAt parts 0;
          func = builtins.elemAt parts 1;
        in ''
          cat > $out/bin/${name} <<WRAPPER
          #!/bin/sh
          # stand-in wrapper: gen from the Nix store, run by the host's Python
          PYTHONPATH=$out/lib exec ${hostPython} -c 'import sys; sys.argv[0] = "${name}"; from ${module} import ${func}; sys.exit(${func}())' "\$@"
          WRAPPER
          chmod +x $out/bin/${name}
        '';
      drv = mk "${pname}-${version}" ''
        mkdir -p $out/bin $out/lib $out/nix-support
        cp -r $src/generator $out/lib/
        ${builtins.concatStringsSep "\n" (builtins.attrValues (builtins.mapAttrs wrapper scripts))}
        for module in $pythonImportsCheck; do
          PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$out/lib ${hostPython} -c "import $module"
        done
        echo "$disabledTestMarks" > $out/nix-support/disabled-test-marks
        echo "$dependencies" > $out/nix-support/dependencies
        echo "$nativeCheckInputs" > $out/nix-support/check-inputs
      '' (builtins.removeAttrs args [ "meta" "pyproject" "build-system" ] // {
        inherit src;
        buildSystem = build-system;
      });
    in
    drv // { inherit meta pname version; };

  python3Packages = builtins.listToAttrs (map (n: { name = n; value = stub "python3-${n}"; }) pyNames)
    // {
      inherit buildPythonApplication;
      pytestCheckHook = stub "pytest-check-hook";
    };

  python3 = stub "python3" // {
    pkgs = python3Packages;
    # An environment whose bin/python3 is the host Python; lists the packages it was given.
    withPackages = f: mk "python3-env" ''
      mkdir -p $out/bin $out/nix-support
      printf '#!/bin/sh\nexec %s "$@"\n' '${hostPython}' > $out/bin/python3
      chmod +x $out/bin/python3
      ln -s python3 $out/bin/python
      echo "$packages" > $out/nix-support/packages
    '' { packages = f python3Packages; };
  };
in
{
  inherit python3 python3Packages;
  tox = stub "tox";
  ruff = stub "ruff";

  # runCommand name env script: $out is made by script, nativeBuildInputs on PATH.
  runCommand = name: env: script:
    mk name script (env // { deps = env.nativeBuildInputs or [ ]; });

  # mkShell: building it records what the shell would put on PATH.
  mkShell = { packages ? [ ], ... }@args:
    mk "nix-shell" ''
      mkdir -p $out/nix-support
      echo "$shellPackages" > $out/nix-support/packages
    '' (builtins.removeAttrs args [ "packages" ] // { shellPackages = packages; });
}
