# The part of nixpkgs.lib that gen's flake.nix uses, with the same behaviour.
{
  genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);

  toLower = builtins.replaceStrings
    (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26)
    (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26);
}
