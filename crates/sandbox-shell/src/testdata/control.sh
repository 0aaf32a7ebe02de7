# if/elif/else, for, while, until, break, continue, functions of status.
for i in 1 2 3 4 5; do
  if [ $i -eq 2 ]; then continue; elif [ $i -eq 4 ]; then break; else echo "i=$i"; fi
done
n=0
until [ $n -ge 2 ]; do n=$((n + 1)); sleep 0; done
echo "n=$n"
if ! false; then echo negated; fi
[ -f /etc/hostname ] && echo file; [ -d /etc ] && echo dir; [ -e /nope ] || echo missing
test "a" = "a" -a 1 -lt 2 && echo both
{ echo grouped; echo twice; } | wc -l
echo $(false) status=$?
exit 3
