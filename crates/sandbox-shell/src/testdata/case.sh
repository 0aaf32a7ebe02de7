# case with globs, alternatives, quoting and a default arm.
for f in app.yaml notes.txt Makefile '*'; do
  case "$f" in
    *.yaml|*.yml) echo "$f: manifest" ;;
    "*") echo "star: quoted pattern" ;;
    [A-Z]*) echo "$f: capitalised";;
    *) echo "$f: other"
  esac
done
case x in (x) echo parenthesised;; esac
