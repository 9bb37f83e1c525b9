// The native action's post step (runs.post): the binary, checked, as APP_TOKEN_STEP=post.
require('./launch.js').launch('post');
