package slacktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// File is an uploaded file.
type File struct {
	ID       string
	Name     string
	Title    string
	Channel  string
	ThreadTS string
	Content  []byte
	Done     bool
}

// Files returns copies of the uploaded files.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for i := 1; i <= s.nextID; i++ {
		if f, ok := s.files["F"+strconv.Itoa(i)]; ok {
			out = append(out, *f)
		}
	}
	return out
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	content, err := io.ReadAll(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.files[id]
	if !ok {
		http.Error(w, "unknown file", http.StatusNotFound)
		return
	}
	rec.Content = content
	s.record(Event{Kind: "upload", URL: r.URL.String(), Body: content})
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(content)))
}

// getUploadURL answers files.getUploadURLExternal: a new file and the URL
// to upload its content to; s.mu is held.
func (s *Server) getUploadURL(w http.ResponseWriter, form url.Values) {
	n, err := strconv.Atoi(form.Get("length"))
	if form.Get("filename") == "" || err != nil || n <= 0 {
		fail(w, "invalid_arguments")
		return
	}
	s.nextID++
	id := "F" + strconv.Itoa(s.nextID)
	s.files[id] = &File{ID: id, Name: form.Get("filename")}
	writeJSON(w, map[string]any{"ok": true, "upload_url": s.srv.URL + "/upload/" + id, "file_id": id})
}

// completeUpload answers files.completeUploadExternal: uploaded files
// shared in a channel (and thread); s.mu is held.
func (s *Server) completeUpload(w http.ResponseWriter, form url.Values) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(form.Get("files")), &files); err != nil || len(files) == 0 {
		fail(w, "invalid_arguments")
		return
	}
	var out []map[string]any
	for _, f := range files {
		rec, ok := s.files[f.ID]
		if !ok || rec.Content == nil {
			fail(w, "file_not_found")
			return
		}
		rec.Title, rec.Channel, rec.ThreadTS, rec.Done = f.Title, form.Get("channel_id"), form.Get("thread_ts"), true
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	writeJSON(w, map[string]any{"ok": true, "files": out})
}
