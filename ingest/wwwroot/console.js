// Export downloads go through the HTTP API, which wants the key in a header a plain link cannot send.
window.telemetryConsole = {
  download: async function (url, key, fileName) {
    const response = await fetch(url, { headers: { 'X-Api-Key': key } });
    if (!response.ok) {
      return `${response.status} ${response.statusText}`;
    }
    const blob = await response.blob();
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = fileName;
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(link.href);
    return '';
  }
};
