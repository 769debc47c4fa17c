# Sourced by the scripts that build in a scratch copy of the checkout, so the checkout's own build/
# stays the normal one. scratch_copy <checkout> <dest>: the files, uncommitted edits included, minus
# what builds make; node_modules is shared by a link.
scratch_copy() {
  tar -C "$1" --exclude=./.git --exclude=./node_modules --exclude=./build --exclude=./dist --exclude=./prebuilds \
    -cf - . | tar -C "$2" -xf -
  ln -s "$1/node_modules" "$2/node_modules"
}
