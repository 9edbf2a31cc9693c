"""Studio pages served by the studio function: static HTML, JS and CSS, no CDN."""
