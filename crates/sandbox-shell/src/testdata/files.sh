# File commands over the virtual filesystem.
cd /usr/share/nginx/html && pwd && ls
cat index.html | grep -i welcome
mkdir -p /tmp/a/b && touch /tmp/a/b/f && ls -a /tmp/a/b
cp index.html /tmp/a/copy.html && mv /tmp/a/copy.html /tmp/a/moved.html && ls /tmp/a
rm /tmp/a/b; rm -r /tmp/a/b && ls /tmp/a
cat <<EOT > /tmp/heredoc
host $(hostname)
EOT
cat /tmp/heredoc
find /usr /tmp -type f
echo hello | base64 && echo aGVsbG8K | base64 -d
echo "a:b:c" | cut -d : -f 2,3
echo hello | sed 's/l/L/g' | tr a-z A-Z
mkdir /tmp; ls /nope
