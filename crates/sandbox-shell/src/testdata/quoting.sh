# Quotes, escapes and expansions.
NAME=world
echo 'single $NAME' "double $NAME" \$NAME ${NAME}s "${MISSING:-fallback}"
echo "nested $(echo "inner $(echo deep)")" `echo backticks`
echo -e 'tab\there' && echo -n 'no newline' && echo
printf '%s=%d\n' a 1 b 2
X="a   b"; echo $X; echo "$X"
echo ~ ~/x "~"
echo $((3 * (2 + 1))) $? $#
