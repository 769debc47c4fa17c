# Draws the soak's CSV (scripts/soak.mjs) as a PNG: one panel per metric against time, kills marked.
# Needs matplotlib: if it is missing, installs python3-matplotlib with apt-get (apt-get update first; as root).
# usage: python3 scripts/soak-plot.py docs/soak/soak.csv docs/soak/soak.png
import csv
import subprocess
import sys

try:
    import matplotlib
except ImportError:
    subprocess.run(['apt-get', 'update'], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(['apt-get', 'install', '-y', 'python3-matplotlib'], check=True, stdout=subprocess.DEVNULL)
    import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

source, target = sys.argv[1], sys.argv[2]
with open(source) as f:
    rows = list(csv.DictReader(f))
minutes = [float(r['t_s']) / 60 for r in rows]
kills = [float(r['t_s']) / 60 for r in rows if r['kills']]
kill_count = sum(len(r['kills'].split('+')) for r in rows if r['kills'])

panels = [
    ('RSS, all our processes (MB)', ['tree_rss_mb']),
    ('RSS, parent (MB)', ['parent_rss_mb']),
    ('open fds', ['tree_fds', 'parent_fds']),
    ('threads', ['tree_threads', 'parent_threads']),
    ('/dev/shm entries (mpjs-)', ['shm_entries']),
    ('child processes', ['children']),
]
fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.1 * len(panels)), sharex=True)
for ax, (title, columns) in zip(axes, panels):
    for at in kills:
        ax.axvline(at, color='tab:red', alpha=0.15, linewidth=0.6)
    for column in columns:
        label = 'all' if column.startswith('tree') else 'parent' if column.startswith('parent') else None
        ax.plot(minutes, [float(r[column]) for r in rows], linewidth=0.9, label=label)
    ax.set_ylabel(title, fontsize=8)
    ax.set_ylim(0, max(float(r[c]) for r in rows for c in columns) * 1.1 + 1)
    if len(columns) > 1:
        ax.legend(fontsize=7, loc='lower right')
axes[0].set_title(f'soak: {kill_count} SIGKILLs (red lines), sampled every second', fontsize=10)
axes[-1].set_xlabel('minutes')
fig.tight_layout()
fig.savefig(target, dpi=90)
