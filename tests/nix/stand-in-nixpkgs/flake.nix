# An offline stand-in for nixpkgs, for tests/test_flake.py ONLY. It provides just what gen's
# flake.nix touches, as real but trivial derivations (builtins.derivation + /bin/sh), so that
# `nix flake check --override-input nixpkgs path:<this dir>` can evaluate and build everything
# without network. It proves the flake's wiring, not that real nixpkgs builds gen.
{
  description = "stand-in nixpkgs for gen's offline flake tests";

  outputs = { self }:
    let
      lib = import ./lib.nix;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems (system: import ./pkgs.nix { inherit system; });
    };
}
