# The source set of the Nix builds and checks: every file of the repository except what the
# build must not see (build outputs, virtualenvs, caches, and files no build or test reads:
# docs, images, CI and the scripts). By exclusion, so a new fixture is in without a change
# here. Plain builtins only: flake.nix uses it, and scripts/check-flake evaluates it on
# `git ls-files` with a Nix too old for nixpkgs' lib.
let
  # A directory or file of this name is left out wherever it is.
  anywhere = [ ".git" "target" ".venv" ".venv-package" "__pycache__" "node_modules" ".direnv" ];
  # Paths from the repository root. Tests never read these (scripts/check-flake proves it for
  # the tracked files: none is under a crate, none is named by a Rust source).
  atRoot = [
    "result"
    ".ci"
    ".github"
    "scripts"
    "infra/out"
    "README.md"
    "Makefile"
    ".gitignore"
    "flake.nix"
    "flake.lock"
  ];
  # Images (the benchmark charts) anywhere.
  suffixes = [ ".png" ".jpg" ".jpeg" ".gif" ".svg" ];

  endsWith = suffix: s:
    let n = builtins.stringLength s; k = builtins.stringLength suffix;
    in n >= k && builtins.substring (n - k) k s == suffix;
  baseName = rel: let parts = builtins.filter builtins.isString (builtins.split "/" rel); in
    builtins.elemAt parts (builtins.length parts - 1);
  # "a/b/c" -> [ "a" "a/b" ]
  ancestors = rel:
    let
      parts = builtins.filter builtins.isString (builtins.split "/" rel);
      prefix = n: builtins.concatStringsSep "/" (builtins.genList (i: builtins.elemAt parts i) n);
    in builtins.genList (i: prefix (i + 1)) (builtins.length parts - 1);
in
rec {
  # Whether the entry at `rel` (a path from the repository root, no leading "./") is kept, as a
  # source filter sees it: directories are asked before what they hold.
  keep = rel: type:
    !(builtins.elem (baseName rel) anywhere)
    && !(builtins.elem rel atRoot)
    && !(builtins.elem (builtins.substring 0 7 rel) [ "result-" ])
    && (type == "directory" || !(builtins.any (s: endsWith s rel) suffixes));

  # Whether the file at `rel` ends up in the source: it and every directory above it are kept.
  included = rel: builtins.all (dir: keep dir "directory") (ancestors rel) && keep rel "regular";

  # The source filter for `builtins.path` / `lib.cleanSourceWith`, for a tree rooted at `root`.
  filter = root: path: type:
    let
      r = toString root + "/";
      p = toString path;
      rel = if builtins.substring 0 (builtins.stringLength r) p == r
        then builtins.substring (builtins.stringLength r) (builtins.stringLength p) p
        else p;
    in keep rel type;
}
